//! Hostile-size inputs for `analyze` (see `benches/analyze-scale.sh`):
//!
//! ```sh
//! cargo run --release --example gen_case -- bundle 8000 /tmp/bundle-8000.tar.gz
//! cargo run --release --example gen_case -- dense 400 /tmp/dense-400.pcap
//! cargo run --release --example gen_case -- tuples 1000000 /tmp/tuples-1m.pcap
//! ```

#[path = "../benches/scale/gen.rs"]
mod gen;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!(
            "usage: gen_case bundle N OUT.tar.gz | dense MEGABYTES OUT.pcap | tuples N OUT.pcap"
        );
        std::process::exit(2)
    };
    let [what, size, out] = args.as_slice() else {
        usage()
    };
    let Ok(size) = size.parse::<u64>() else {
        usage()
    };
    match what.as_str() {
        "bundle" => {
            let b = gen::bundle(size as usize);
            std::fs::write(out, &b)?;
            println!("{out}: {size} captures, {} bytes", b.len());
        }
        "dense" => {
            let s = gen::stun_dense(std::fs::File::create(out)?, size)?;
            println!(
                "{out}: {} frames, {} bytes, {} transactions, {} client 5-tuples",
                s.frames, s.bytes, s.transactions, s.tuples
            );
        }
        "tuples" => {
            let s = gen::many_tuples(std::fs::File::create(out)?, size as u32)?;
            println!(
                "{out}: {} frames, {} bytes, {} client 5-tuples",
                s.frames, s.bytes, s.tuples
            );
        }
        _ => usage(),
    }
    Ok(())
}
