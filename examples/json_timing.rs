use turnscope::report::{analyze, AnalyzeOptions, Input};
fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/synth.pcap".into());
    let rep = analyze(&[Input::path(&path)], &AnalyzeOptions::default());
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let j = rep.json();
        let a = t.elapsed();
        let t = std::time::Instant::now();
        let k = serde_json::to_string_pretty(&rep).unwrap();
        println!(
            "json {:?} ({}), serde_json sequential {:?} ({})",
            a,
            j.len(),
            t.elapsed(),
            k.len()
        );
    }
}
