//! The safety promises across commands: secrets never printed or written, bounded reads
//! of hostile input, atomic outputs, and located messages for broken files.

use std::io::BufRead;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::common::bin;
use crate::seed::{TestDb, text};

const SECRET: &str = "S3cr3tPW";

/// Every file under `dir` whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let p = entry.path();
        if p.is_dir() {
            found.extend(files_holding(&p, needle));
        } else if std::fs::read(&p)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
        {
            found.push(p.display().to_string());
        }
    }
    found
}

/// `serve` until it listens, then Ctrl-C: everything it printed.
fn serve_then_interrupt(dir: &Path, url: &str) -> Output {
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("reference target on") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("serve starts listening");
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut o = child.wait_with_output().unwrap();
    o.stderr = reader.join().unwrap().into_bytes();
    o
}

#[test]
fn a_planted_secret_never_appears_in_any_output_or_file() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Trust authentication ignores the password, so the seed really connects with it.
    let url = format!(
        "{}?password={SECRET}&sslpassword={SECRET}&application_name=simulate_test",
        db.url()
    );
    let down = format!("postgres://alice:{SECRET}@127.0.0.1:1/nowhere?PassWord={SECRET}");
    let server = crate::replay::Server::start(None);
    let target = format!("{}/?api_key={SECRET}&Token={SECRET}", server.url());
    let world = ["--users", "30", "--days", "1"];
    let run = |args: &[&str]| {
        bin()
            .args(args)
            .current_dir(d)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };
    let mut outputs: Vec<(String, Output)> = Vec::new();
    let mut case = |name: &str, o: Output| outputs.push((name.to_string(), o));
    case(
        "seed",
        run(&[&["seed", "--database-url", &url][..], &world].concat()),
    );
    case(
        "seed refused",
        run(&[&["seed", "--database-url", &url][..], &world].concat()),
    );
    case(
        "verify",
        run(&[
            "verify",
            "--database-url",
            &url,
            "--summary-export",
            "verify.json",
        ]),
    );
    for cmd in ["seed", "verify", "serve"] {
        case(
            &format!("{cmd} cannot connect"),
            run(&[cmd, "--database-url", &down]),
        );
    }
    case(
        "replay",
        run(&[
            &["replay", "--seeded", &url, "--target", &target][..],
            &world,
            &[
                "--compress",
                "200000x",
                "--summary-export",
                "out/replay.json",
                // The HTML report shows the target too: masked, like the summary.
                "--report",
                "out/replay.html",
            ],
        ]
        .concat()),
    );
    case(
        "replay bad target",
        run(&["replay", "--target", &format!("ftp://h/?token={SECRET}")]),
    );
    case(
        "replay bad seeded",
        run(&[
            &["replay", "--seeded", &down, "--target", &target][..],
            &world,
        ]
        .concat()),
    );
    case("serve", serve_then_interrupt(d, &url));

    // The commands did what they were asked (so their output is the real one) …
    let code = |name: &str| {
        let o = &outputs.iter().find(|(n, _)| n == name).unwrap().1;
        (o.status.code(), text(o))
    };
    assert_eq!(code("seed").0, Some(0), "{}", code("seed").1);
    assert_eq!(code("verify").0, Some(0), "{}", code("verify").1);
    assert_eq!(code("replay").0, Some(0), "{}", code("replay").1);
    assert_eq!(code("serve").0, Some(0), "{}", code("serve").1);
    for name in [
        "seed refused",
        "seed cannot connect",
        "verify cannot connect",
    ] {
        assert_eq!(code(name).0, Some(2), "{name}: {}", code(name).1);
    }
    // … printed the URLs with the credentials masked …
    assert!(
        code("seed").1.contains("password=***"),
        "{}",
        code("seed").1
    );
    assert!(code("seed cannot connect").1.contains("alice:***@"));
    assert!(
        code("replay").1.contains("api_key=***"),
        "{}",
        code("replay").1
    );
    let summary = crate::common::read_json(&d.join("out/replay.json"));
    let warnings = summary["config"]["warnings"].to_string();
    assert!(
        warnings.contains("already holds") && warnings.contains("password=***"),
        "{warnings}"
    );
    // … and never the secret, in any output or any file they wrote.
    nothing_holds_the_secret(&outputs, d);
}

/// No command's output and no file below `d` holds [`SECRET`].
fn nothing_holds_the_secret(outputs: &[(String, Output)], d: &Path) {
    for (name, o) in outputs {
        assert!(
            !text(o).contains(SECRET),
            "{name} printed the secret:\n{}",
            text(o)
        );
    }
    assert_eq!(files_holding(d, SECRET.as_bytes()), Vec::<String>::new());
}

/// A small tmpfs mounted on a folder for one test, unmounted when dropped (needs root, as
/// CI runs; the test says so rather than pass without a disk to fill).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn new(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let o = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "mounting a {size} tmpfs needs root: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes zeros until the disk is full.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path().join("filler")).unwrap();
        let chunk = vec![0u8; 16 << 10];
        while f.write_all(&chunk).is_ok() {}
        while f.write_all(&[0]).is_ok() {}
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// The files of `dir` (not its folders), by name, with their bytes.
fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_full_disk_leaves_the_previous_files_or_none_and_says_which() {
    let disk = SmallDisk::new("400k");
    let d = disk.path();
    let run = |args: &[&str]| {
        bin()
            .args(args)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };
    let small = ["--users", "20", "--days", "1", "-q"];
    let runs = d.join("r");
    let o = run(&[&["run", "--out", runs.to_str().unwrap()][..], &small].concat());
    assert!(o.status.success(), "{}", text(&o));
    let before = snapshot(&runs);
    assert_eq!(before.len(), 4, "{:?}", before.keys());
    assert!(before.contains_key("report.html"));

    // The disk check names sizes in units that say something.
    let o = run(&["run", "-q", "--users", "2000", "--days", "3", "--out"]
        .iter()
        .copied()
        .chain([d.join("big").to_str().unwrap()])
        .collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(" MB but ") && text(&o).contains(" kB free"),
        "{}",
        text(&o)
    );

    // Summaries exported while there is room.
    let elsewhere = tempfile::tempdir().unwrap();
    let db = elsewhere.path().join("s.sqlite");
    let o = run(&[&["seed", "--sqlite", db.to_str().unwrap()][..], &small].concat());
    assert!(o.status.success(), "{}", text(&o));
    let report = d.join("verify.json");
    let verify = || {
        run(&[
            "verify",
            "-q",
            "--sqlite",
            db.to_str().unwrap(),
            "--summary-export",
        ]
        .iter()
        .copied()
        .chain([report.to_str().unwrap()])
        .collect::<Vec<_>>())
    };
    assert!(verify().status.success());
    let server = crate::replay::Server::start(None);
    let log = crate::replay::even_log(elsewhere.path(), 20, 1);
    let summary = d.join("summary.json");
    let replay = || {
        crate::common::replay_log(
            &log,
            Path::new("mappings/default.toml"),
            &server.url(),
            "1x",
        )
        .arg("--summary-export")
        .arg(&summary)
        .output()
        .unwrap()
    };
    assert!(replay().status.success(), "{}", text(&replay()));
    let exports = snapshot(d);

    disk.fill();
    // A run over the previous one: its files stay as they were, and the message says so.
    let o = run(&[
        &["run", "--force", "--out", runs.to_str().unwrap()][..],
        &small,
    ]
    .concat());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = text(&o);
    assert!(
        err.contains("No space left on device")
            && err.contains("the previous events.jsonl, metrics.json, run.json")
            && err.contains("fix: free space"),
        "{err}"
    );
    assert_eq!(snapshot(&runs), before, "no truncated or temporary file");
    // A first run into a new folder: nothing at all.
    let fresh = d.join("fresh");
    let o = run(&[
        &["run", "--force", "--out", fresh.to_str().unwrap()][..],
        &small,
    ]
    .concat());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("nothing was written in"), "{}", text(&o));
    assert!(snapshot(&fresh).is_empty());
    // Summaries: the previous file stands.
    for (name, o) in [("verify", verify()), ("replay", replay())] {
        assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
        assert!(
            text(&o).contains("is unchanged") && text(&o).contains("No space left"),
            "{name}: {}",
            text(&o)
        );
    }
    let mut now = snapshot(d);
    now.remove("filler");
    assert_eq!(
        now, exports,
        "the summaries as they were, no temporary files"
    );
}

#[test]
fn run_out_naming_a_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taken");
    std::fs::write(&file, b"mine").unwrap();
    let o = bin()
        .args(["run", "-q", "--users", "5", "--days", "1", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is a file, not a folder"), "{}", text(&o));
    assert_eq!(std::fs::read(&file).unwrap(), b"mine");
}

#[test]
fn endless_or_huge_inputs_are_refused_with_the_limit_not_read_into_memory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let target = "http://127.0.0.1:9";
    let check = |what: &str, o: Output, wanted: &str| {
        assert_eq!(o.status.code(), Some(2), "{what}: {}", text(&o));
        for w in wanted.split(" … ") {
            assert!(text(&o).contains(w), "{what}: {}", text(&o));
        }
    };
    // A mapping whose proto, or whose token file, is an endless device.
    let grpc = d.join("grpc.toml");
    std::fs::write(
        &grpc,
        "[grpc]\nproto = \"/dev/zero\"\n[[request]]\nevent = \"points.earned\"\nprotocol = \"grpc\"\nmethod = \"a.B/C\"\n",
    )
    .unwrap();
    let tokens = d.join("tokens.toml");
    std::fs::write(
        &tokens,
        "[auth]\ntokens_file = \"/dev/zero\"\nbearer = \"{token}\"\n[[request]]\nevent = \"points.earned\"\npath = \"/p\"\n",
    )
    .unwrap();
    let replay = |args: &[&str]| {
        bin()
            .args(["replay", "--target", target])
            .args(args)
            .output()
            .unwrap()
    };
    check(
        "proto",
        replay(&["--mapping", grpc.to_str().unwrap(), "--grpc-target", target]),
        "grpc.toml:2: field `grpc.proto` … larger than 1 MiB",
    );
    check(
        "tokens",
        replay(&["--mapping", tokens.to_str().unwrap()]),
        "larger than 256 MiB",
    );
    check(
        "ca-cert",
        replay(&["--ca-cert", "/dev/zero"]),
        "larger than 1 MiB",
    );
    // An event log streams: an endless line, and a long one further down, are named.
    check(
        "log",
        replay(&["--from-log", "/dev/zero"]),
        "/dev/zero:1: the line is longer than 1 MiB",
    );
    let log = crate::replay::even_log(d, 3, 1);
    let mut text_log = std::fs::read(&log).unwrap();
    text_log.extend(vec![b'x'; (1 << 20) + 10]);
    text_log.push(b'\n');
    std::fs::write(&log, text_log).unwrap();
    check(
        "log line 4",
        replay(&["--from-log", log.to_str().unwrap()]),
        "even.jsonl:4: the line is longer than 1 MiB",
    );
    // Persona and scenario files.
    let personas = d.join("personas");
    std::fs::create_dir(&personas).unwrap();
    std::os::unix::fs::symlink("/dev/zero", personas.join("zero.toml")).unwrap();
    check(
        "personas",
        bin()
            .args(["personas", "validate"])
            .arg(&personas)
            .output()
            .unwrap(),
        "zero.toml: it is larger than 1 MiB",
    );
    check(
        "scenario",
        bin()
            .args(["run", "--scenario", "/dev/zero"])
            .output()
            .unwrap(),
        "larger than 1 MiB",
    );
}
