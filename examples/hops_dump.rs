//! Print the per-hop path of every connectivity check of a case (a debugging aid).
use turnscope::flow::hops::{check_paths, CheckVerdict};
use turnscope::{AnalyzeOptions, Input};

fn main() {
    let inputs: Vec<Input> = std::env::args().skip(1).map(Input::path).collect();
    let (case, _) = turnscope::report::assemble(&inputs, &AnalyzeOptions::default());
    for (i, c) in case.captures.iter().enumerate() {
        println!("cap {i} {} {:?}", c.name, case.roles[i]);
    }
    for p in check_paths(&case) {
        let t = &case.txs[p.tx];
        let v = match p.verdict {
            CheckVerdict::Answered => "answered".to_string(),
            CheckVerdict::AnswerLost { last } => format!(
                "answer lost after cap{} {:?} {}->{} f{}",
                last.cap, last.leg, last.src, last.dst, last.frame
            ),
            CheckVerdict::Unanswered { last } => format!(
                "unanswered after cap{} {:?} {}->{} f{}",
                last.cap, last.leg, last.src, last.dst, last.frame
            ),
        };
        let legs: Vec<String> = p
            .requests
            .iter()
            .map(|h| format!("c{}:{:?}", h.cap, h.leg))
            .collect();
        let ans: Vec<String> = p
            .answers
            .iter()
            .map(|h| format!("c{}:{:?}", h.cap, h.leg))
            .collect();
        println!(
            "{} origin c{} {:?} {}->{} agent={} | {v} | rq {} | rs {}",
            t.txid,
            p.origin.cap,
            p.origin.leg,
            p.origin.src,
            p.origin.dst,
            p.origin_at_agent,
            legs.join(","),
            ans.join(",")
        );
    }
}
