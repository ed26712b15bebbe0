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
    Ok(u16),
    /// A response whose status the mapping does not expect.
    Status(u16),
    /// No response: the class of transport error.
    Failed(ErrorClass),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ErrorClass {
    Refused,
    Reset,
    Timeout,
    Tls,
    Connect,
    /// A response that failed the mapping's check (gRPC `success == false`).
    Application,
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

/// A WebSocket (Socket.IO transport) error's class.
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
