//! How a request ended, and the one classification of transport failures every driver
//! shares (HTTP/1.1, h2c, HTTPS, gRPC, Socket.IO): a refused connection is `refused`
//! whichever protocol met it, so error classes add up across protocols and thresholds
//! mean the same thing everywhere.

use std::error::Error as _;

use tokio_tungstenite::tungstenite;

/// How one request ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A response with an expected status.
    Ok(Status),
    /// A response whose status the mapping does not expect.
    Status(Status),
    /// No response: the class of transport error.
    Failed(ErrorClass),
}

impl Outcome {
    pub(crate) fn is_ok(self) -> bool {
        matches!(self, Outcome::Ok(_))
    }

    /// In words, for a dependency's description: `ok 200`, `status 500`, `refused`.
    pub(crate) fn words(self) -> String {
        match self {
            Outcome::Ok(s) => format!("ok {}", s.name()),
            Outcome::Status(s) => format!("status {}", s.name()),
            Outcome::Failed(c) => c.name().to_string(),
        }
    }
}

/// An answer's status, in its protocol's terms: summaries and tables name it as that
/// protocol does (`200`, `UNAVAILABLE`, `acked`), so a gRPC OK never reads as "0".
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    /// An HTTP status (a refused Socket.IO handshake's too).
    Http(u16),
    /// A gRPC status code, 0 (OK) to 16 (UNAUTHENTICATED).
    Grpc(u16),
    /// A Socket.IO step done.
    SocketIo(SocketIoDone),
    /// A plain WebSocket step done.
    WebSocket(WsDone),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum WsDone {
    Connected,
    Closed,
    /// A message whose reply (the frame carrying its correlation value) came back.
    Replied,
    /// A message without a reply, written to the connection.
    Written,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SocketIoDone {
    Connected,
    Closed,
    /// An emit the server acknowledged.
    Acked,
    /// An emit without an ack, written to the connection.
    Written,
}

/// gRPC's status codes by number, as the gRPC documentation names them.
const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

impl Status {
    /// The name in summaries and tables: `200`, `OK`, `UNAVAILABLE`, `acked`.
    pub(crate) fn name(self) -> String {
        match self {
            Status::Http(s) => s.to_string(),
            Status::Grpc(c) => GRPC_CODES
                .get(c as usize)
                .map_or_else(|| format!("grpc {c}"), |n| n.to_string()),
            Status::SocketIo(d) => match d {
                SocketIoDone::Connected => "connected",
                SocketIoDone::Closed => "closed",
                SocketIoDone::Acked => "acked",
                SocketIoDone::Written => "written",
            }
            .to_string(),
            Status::WebSocket(d) => match d {
                WsDone::Connected => "connected",
                WsDone::Closed => "closed",
                WsDone::Replied => "replied",
                WsDone::Written => "written",
            }
            .to_string(),
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ErrorClass {
    Refused,
    Reset,
    Timeout,
    Tls,
    Connect,
    /// An answer that failed the mapping's check (an HTTP JSON body, a gRPC response or
    /// a Socket.IO ack without the field's value).
    Application,
    /// An answer body over 1 MiB on a request with a check: not judged on a cut body.
    BodyTooLarge,
    Other,
    /// Still out when the replay ended (the drain bound ran out, or a second Ctrl-C):
    /// no answer, counted as an error and timed up to that moment.
    Abandoned,
}

impl ErrorClass {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ErrorClass::Refused => "refused",
            ErrorClass::Reset => "reset",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Tls => "tls",
            ErrorClass::Connect => "connect",
            ErrorClass::Application => "app",
            ErrorClass::BodyTooLarge => "body_too_large",
            ErrorClass::Other => "other",
            ErrorClass::Abandoned => "abandoned",
        }
    }
}

/// A failed connect's or write's class.
pub(crate) fn io_error_class(e: &std::io::Error) -> ErrorClass {
    io_class(e).unwrap_or(ErrorClass::Connect)
}

fn io_class(e: &std::io::Error) -> Option<ErrorClass> {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => Some(ErrorClass::Refused),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | NotConnected => {
            Some(ErrorClass::Reset)
        }
        TimedOut => Some(ErrorClass::Timeout),
        _ => None,
    }
}

/// The class of an error chain: the io error underneath if any, else what the text says.
fn chain_class(mut src: Option<&(dyn std::error::Error + 'static)>) -> Option<ErrorClass> {
    while let Some(s) = src {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return Some(ErrorClass::Tls);
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if let Some(c) = io_class(io) {
                return Some(c);
            }
            // An io::Error's `source()` skips the error it wraps: descend into that one
            // (rustls reports a bad certificate as io errors wrapped twice).
            if let Some(inner) = io.get_ref() {
                src = Some(inner);
                continue;
            }
        }
        src = s.source();
    }
    None
}

pub(crate) fn hyper_class(e: &hyper::Error) -> ErrorClass {
    if e.is_timeout() {
        return ErrorClass::Timeout;
    }
    if let Some(c) = chain_class(e.source()) {
        return c;
    }
    if e.is_closed() || e.is_incomplete_message() || e.is_canceled() {
        ErrorClass::Reset
    } else {
        ErrorClass::Other
    }
}

/// A reqwest error's class, from its flags and the io error underneath.
pub(crate) fn reqwest_class(e: &reqwest::Error) -> ErrorClass {
    if e.is_timeout() {
        return ErrorClass::Timeout;
    }
    if let Some(c) = chain_class(e.source()) {
        return c;
    }
    let text = format!("{e:?}");
    if text.contains("connection closed") || text.contains("IncompleteMessage") {
        ErrorClass::Reset
    } else if e.is_connect() {
        ErrorClass::Connect
    } else {
        ErrorClass::Other
    }
}

/// A WebSocket (plain, or Socket.IO's transport) error's class.
pub(crate) fn ws_class(e: &tungstenite::Error) -> ErrorClass {
    match e {
        tungstenite::Error::Io(io) => io_error_class(io),
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            ErrorClass::Reset
        }
        tungstenite::Error::Protocol(_) => ErrorClass::Reset,
        _ => ErrorClass::Other,
    }
}

/// A transport failure's class from the error chain (refused, reset, timeout, …).
pub(crate) fn transport_class(e: &(dyn std::error::Error + 'static)) -> ErrorClass {
    chain_class(Some(e)).unwrap_or(ErrorClass::Connect)
}
