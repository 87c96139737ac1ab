//! Every dot opens its request chain: the data the requests chart's script
//! reads (one entry per drawn dot, in the order the chart draws its
//! circles, and the chain of each traced one), the panel it fills, and the
//! script itself (`chain.js`, embedded: the page fetches nothing). Click a
//! dot for its waterfall; shift-click a second to set the two side by side;
//! a hop's "queue then" scrolls to its service's queue chart and marks the
//! moment.

use std::collections::HashMap;

use maud::{Markup, PreEscaped, html};
use serde::Serialize;

use super::charts::Dot;
use crate::requests::RequestSample;
use crate::trace::compact::Chain;

/// The page's script: reads `#chain-data`, listens on the requests chart.
const SCRIPT: &str = include_str!("chain.js");

/// The panel's and the waterfall's looks.
pub const STYLE: &str = r#"
#chain-panel { margin: 8px 0 0; font-size: 0.85em; }
#chain-panel .hint { color: #666; }
#chain-panel .one { border: 1px solid #ddd; border-radius: 4px; padding: 6px 8px; margin-bottom: 8px; }
#chain-panel table { width: 100%; font-size: 0.95em; table-layout: fixed; }
#chain-panel td, #chain-panel th { padding: 2px 4px; overflow: hidden; }
#chain-panel td.name { text-align: left; white-space: nowrap; text-overflow: ellipsis; }
#chain-panel td.status { text-align: left; white-space: normal; }
#chain-panel tr.critical td.name::before { content: "* "; color: #d62d2d; font-weight: bold; }
#chain-panel tr.failed td { color: #b01e1e; }
#chain-panel td.differs, #chain-panel tr.differs td { background: #fde2b8; }
#chain-panel .track { position: relative; height: 10px; width: 100%; background: #f3f3f3; }
#chain-panel .seg { position: absolute; top: 0; height: 10px; }
#chain-panel a.queue { cursor: pointer; color: #3478db; text-decoration: underline; }
#chain-panel .diff { margin: 4px 0; color: #8a5a00; }
"#;

/// One drawn dot as the script reads it: `[generator, due s, latency ms,
/// outcome, held ms or null, trace id or null]`.
#[derive(Serialize)]
struct DotEntry<'a>(&'a str, f64, f64, &'a str, Option<f64>, Option<&'a str>);

/// What the script reads.
#[derive(Serialize)]
struct Data<'a> {
    dots: Vec<DotEntry<'a>>,
    chains: HashMap<&'a str, &'a Chain>,
    /// The share of requests traced (`settings.trace`), to say why a dot
    /// has no chain.
    trace_share: f64,
}

/// The embedded data, the panel and the script for `dots` of `sample`.
pub fn section(
    dots: &[Dot],
    sample: &[RequestSample],
    chains: &HashMap<String, Chain>,
    trace_share: f64,
) -> Markup {
    let mut data = Data {
        dots: Vec::with_capacity(dots.len()),
        chains: HashMap::new(),
        trace_share,
    };
    for d in dots {
        let r = &sample[d.sample];
        let id = r.trace_id.as_deref();
        if let Some((id, c)) = id.and_then(|id| chains.get_key_value(id)) {
            data.chains.insert(id.as_str(), c);
        }
        data.dots.push(DotEntry(
            &r.generator,
            r.t_s,
            r.latency_ms,
            &r.outcome,
            d.held_ms,
            id,
        ));
    }
    // Cannot fail: plain data, string keys.
    let json = serde_json::to_string(&data).expect("serialisable");
    html! {
        // `</` never closes the script early: names are user text.
        script #chain-data type="application/json" { (PreEscaped(json.replace("</", "<\\/"))) }
        div #chain-panel {
            p.hint {
                "Click a dot to open its request chain (every hop, its role, its queue wait, work, time on the wire and status); "
                "shift-click a second dot to set the two one above the other, hop by hop, their differences marked."
            }
        }
        script { (PreEscaped(SCRIPT)) }
    }
}

#[cfg(test)]
mod tests {
    use plotters::style::RGBColor;

    use super::*;

    fn dot(sample: usize) -> Dot {
        Dot {
            t_s: 1.0,
            latency_ms: 5.0,
            colour: RGBColor(0, 0, 0),
            queue_ms: None,
            held_ms: None,
            sample,
        }
    }

    /// A generator named like markup cannot end the data's script early
    /// (the script sets names as text, never as markup).
    #[test]
    fn the_data_holds_each_drawn_dot_and_only_their_chains_and_cannot_close_its_script() {
        let sample: Vec<RequestSample> = ["a", "b", "c"]
            .iter()
            .map(|id| RequestSample {
                generator: "</script><img src=x onerror=alert(1)>".into(),
                t_s: 1.0,
                latency_ms: 5.0,
                outcome: "OK".into(),
                trace_id: Some(id.to_string()),
            })
            .collect();
        let chains: HashMap<String, Chain> = ["a", "b", "c"]
            .iter()
            .map(|id| (id.to_string(), Chain(Vec::new())))
            .collect();
        let html = section(&[dot(0), dot(2)], &sample, &chains, 0.5).into_string();
        let data = html
            .split("<script id=\"chain-data\" type=\"application/json\">")
            .nth(1)
            .unwrap();
        let data = &data[..data.find("</script>").unwrap()];
        assert!(!data.contains("</"), "{data}");
        let v: serde_json::Value = serde_json::from_str(&data.replace("<\\/", "</")).unwrap();
        assert_eq!(v["dots"].as_array().unwrap().len(), 2);
        assert_eq!(v["dots"][1][5], "c");
        assert_eq!(v["chains"].as_object().unwrap().len(), 2, "b was not drawn");
        assert_eq!(v["trace_share"], 0.5);
    }
}
