//! Every dot of the report opens its request chain, in a real browser:
//! headless Chromium over WebDriver clicks a yellow dot of the diner's
//! report (the waterfall names each hop's role and the queue wait at the
//! kitchen; "queue then" scrolls to the kitchen's queue chart and marks the
//! moment), shift-clicks a second to compare, and clicks a red dot of
//! retry-storm's (the retries and their codes). retry-storm's report, the
//! largest example's, stays under its size budget and opens within 2 s.
//! Screenshots go to `target/test-artifacts/`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::browser::{Driver, shot};
use common::peers::{CHROMEDRIVER, CHROMIUM};
use common::{Sandbox, require_peer};
use fantoccini::{Client, Locator};
use serde_json::Value;

/// The report of the largest example stays under this.
const PAGE_BUDGET: u64 = 5 * 1024 * 1024;

/// Runs an example (with `sets`) and returns its report.
fn report(sb: &Sandbox, example: &str, sets: &[&str]) -> PathBuf {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(example);
    let mut args = vec!["-q"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = sb.run(&file, &args);
    assert!(out.status.success(), "{out:?}");
    sb.out().join("report.html")
}

/// The index of the first drawn dot whose data satisfies `pick` (a JS
/// expression over `d`, the dot, and `c`, its chain or null) and that no
/// other dot crowds (so a click on it is a click on it alone).
async fn dot(c: &Client, pick: &str) -> usize {
    let js = format!(
        "const data = JSON.parse(document.getElementById('chain-data').textContent);
         const cs = [...document.querySelectorAll('#chart-requests circle')];
         const at = k => [cs[k].cx.baseVal.value, cs[k].cy.baseVal.value];
         const alone = k => {{ const [x, y] = at(k); return cs.every((o, j) => j === k || Math.hypot(at(j)[0] - x, at(j)[1] - y) > 9); }};
         return data.dots.findIndex((d, k) => {{ const c = d[5] ? data.chains[d[5]] : null; return ({pick}) && alone(k); }});"
    );
    let i = c.execute(&js, vec![]).await.unwrap();
    let i = i.as_i64().unwrap();
    assert!(i >= 0, "no dot such that {pick}");
    i as usize
}

/// Clicks dot `i` (with Shift held when `shift`), as a person's pointer.
async fn click(c: &Client, i: usize, shift: bool) {
    let circle = c
        .find(Locator::Css(&format!(
            "#chart-requests circle[data-dot='{i}']"
        )))
        .await
        .unwrap();
    c.execute(
        "arguments[0].scrollIntoView({block: 'center'})",
        vec![serde_json::to_value(&circle).unwrap()],
    )
    .await
    .unwrap();
    if shift {
        // WebDriver's element click holds no key: the page's own handler
        // is given the same event a shift-click sends.
        c.execute(
            "const r = arguments[0].getBoundingClientRect();
             arguments[0].ownerSVGElement.dispatchEvent(new MouseEvent('click', {bubbles: true, shiftKey: true, clientX: r.x + r.width / 2, clientY: r.y + r.height / 2}));",
            vec![serde_json::to_value(&circle).unwrap()],
        )
        .await
        .unwrap();
    } else {
        circle.click().await.unwrap();
    }
}

async fn panel(c: &Client) -> String {
    c.find(Locator::Id("chain-panel"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[test]
fn a_dot_opens_its_chain_and_its_hop_the_queue_chart() {
    if !require_peer(&CHROMIUM) || !require_peer(&CHROMEDRIVER) {
        return;
    }
    let sb = Sandbox::new();
    let page = report(
        &sb,
        "topologies/diner.yaml",
        &[
            "load.regulars.duration=10s",
            "load.lunch-rush.start=2s",
            "load.lunch-rush.duration=6s",
        ],
    );
    let driver = Driver::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let c = driver.session(1300, 1000).await;
        c.goto(&format!("file://{}", page.display())).await.unwrap();
        // A yellow dot: answered after waiting in the kitchen's queue for
        // most of its latency.
        let yellow = dot(&c, "d[3] === 'OK' && c && c.some(h => h[2] === 'server' && h[6] > 500 * d[2])").await;
        click(&c, yellow, false).await;
        let text = panel(&c).await;
        assert!(text.contains("(client) calling kitchen/Cook"), "{text}");
        assert!(text.contains("kitchen#0 (server) serving kitchen/Cook"), "{text}");
        // The queue wait cell of the kitchen's hop: most of the latency.
        let queue: f64 = c
            .execute(
                "const row = [...document.querySelectorAll('#chain-panel tr')].find(r => r.textContent.includes('(server)'));
                 return parseFloat(row.children[4].textContent);",
                vec![],
            )
            .await
            .unwrap()
            .as_f64()
            .unwrap();
        assert!(queue > 0.0, "the kitchen's queue wait is shown: {text}");
        shot(&c, "report-chain-diner.png").await;

        // Its hop at the kitchen, then the kitchen's queue at that moment.
        let before: f64 = c.execute("return window.scrollY", vec![]).await.unwrap().as_f64().unwrap();
        c.find(Locator::Css("#chain-panel a.queue")).await.unwrap().click().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let marker: Value = c
            .execute(
                "const m = document.getElementById('chain-marker');
                 const chart = document.getElementById('chart-service-kitchen').getBoundingClientRect();
                 return m && [m.textContent, chart.top, chart.bottom, window.innerHeight, window.scrollY];",
                vec![],
            )
            .await
            .unwrap();
        let m = marker.as_array().unwrap_or_else(|| panic!("no marker on the kitchen's chart"));
        assert!(m[0].as_str().unwrap().starts_with("kitchen#0 at "), "{marker}");
        assert!(m[0].as_str().unwrap().contains("waited"), "{marker}");
        let (top, bottom, height, after) = (m[1].as_f64().unwrap(), m[2].as_f64().unwrap(), m[3].as_f64().unwrap(), m[4].as_f64().unwrap());
        assert!(top < height && bottom > 0.0, "the kitchen's chart is in view: {marker}");
        assert!(after > before, "the page scrolled down to it: {before} -> {after}");
        shot(&c, "report-chain-queue.png").await;

        // A fast dot beside the slow one: hop by hop, the difference named.
        let fast = dot(&c, "d[3] === 'OK' && c && d[2] < 300").await;
        c.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
        click(&c, yellow, false).await;
        click(&c, fast, true).await;
        let text = panel(&c).await;
        assert_eq!(text.matches("kitchen#0 (server)").count(), 2, "two chains: {text}");
        assert!(text.contains("The biggest difference: the first request waited in the queue"), "{text}");
        let marked: Value = c
            .execute("return document.querySelectorAll('#chain-panel td.differs').length", vec![])
            .await
            .unwrap();
        assert!(marked.as_u64().unwrap() >= 2, "the differing cells are marked in both");
        shot(&c, "report-chain-compare.png").await;
        c.close().await.unwrap();
    });
}

#[test]
fn a_red_dot_shows_its_retries_and_the_largest_report_opens_fast() {
    if !require_peer(&CHROMIUM) || !require_peer(&CHROMEDRIVER) {
        return;
    }
    let sb = Sandbox::new();
    let page = report(&sb, "topologies/retry-storm.yaml", &[]);
    let size = std::fs::metadata(&page).unwrap().len();
    assert!(
        size < PAGE_BUDGET,
        "retry-storm's report is {size} bytes, over {PAGE_BUDGET}"
    );
    let driver = Driver::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let c = driver.session(1300, 1000).await;
        c.goto(&format!("file://{}", page.display())).await.unwrap();
        let load: Value = c
            .execute(
                "const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime;",
                vec![],
            )
            .await
            .unwrap();
        let ms = load.as_f64().unwrap();
        assert!(ms > 0.0 && ms < 2000.0, "the load event came {ms} ms after the navigation began");
        // A red dot (turned away) whose call to the database was retried.
        let red = dot(&c, "d[3] === 'RESOURCE_EXHAUSTED' && c && c.some(h => h[11] > 1)").await;
        click(&c, red, false).await;
        let text = panel(&c).await;
        assert!(text.contains("RESOURCE_EXHAUSTED"), "{text}");
        assert!(text.contains("attempt 2"), "its retries: {text}");
        assert!(text.contains("(client) calling db/Query"), "{text}");
        let codes: Value = c
            .execute(
                "return [...document.querySelectorAll('#chain-panel tr.failed')].length",
                vec![],
            )
            .await
            .unwrap();
        assert!(codes.as_u64().unwrap() >= 2, "each failed attempt with its code: {text}");
        shot(&c, "report-chain-retries.png").await;
        c.close().await.unwrap();
    });
}
