//! Print every capture-layer event of a file, one per line:
//! `cargo run --example capture_dump -- FILE`.
use turnscope::capture::{self, Event};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: capture_dump FILE");
        std::process::exit(2);
    };
    let f = match capture::open(std::path::Path::new(&path)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    println!("{:?} link types {:?}", f.format(), f.link_types());
    let mut events = f.events();
    for batch in events.by_ref() {
        for ev in batch {
            match ev {
                Event::Payload(p) => {
                    let head: Vec<String> =
                        p.data.iter().take(8).map(|b| format!("{b:02x}")).collect();
                    println!(
                        "{} {:.9} {} {:?} {} -> {} len {} [{}]",
                        p.frame,
                        p.ts.as_secs_f64(),
                        p.transport.as_str(),
                        p.framing,
                        p.src,
                        p.dst,
                        p.data.len(),
                        head.join(" ")
                    );
                }
                other => println!("{:?} {other:?}", other.frame()),
            }
        }
    }
    println!("{:?}", events.stats());
}
