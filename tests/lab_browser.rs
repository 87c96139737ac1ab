//! The lab in a real browser: headless Chromium, driven over WebDriver
//! (chromedriver), opens the diner's lab, sees the stream connect, pauses
//! the lunch rush, raises the regulars from 3/s to 9/s and sees the
//! kitchen's queue on the page pass 5 and red dots (rejections) appear,
//! opens a dot's request chain, then lowers them to 2/s and sees the queue
//! drain; on spof.yaml, a fourth fleet replica set in the services table
//! joins the balancer: its row appears and it takes calls. Screenshots go
//! to `target/test-artifacts/`.

mod common;

use std::time::{Duration, Instant};

use common::browser::{Driver, shot};
use common::lab::Lab;
use common::peers::{CHROMEDRIVER, CHROMIUM};
use common::{Sandbox, require_peer};
use fantoccini::{Client, Locator};
use serde_json::json;

/// An attribute of the first element `css` finds, as a number (0 when absent).
async fn number(c: &Client, css: &str, attr: &str) -> f64 {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e
            .attr(attr)
            .await
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        Err(_) => 0.0,
    }
}

/// Waits up to `limit` for `pred` (the kitchen's queue on the page, red
/// dots drawn); how long it took, or a panic saying what the page showed.
async fn until(
    c: &Client,
    what: &str,
    limit: Duration,
    pred: impl Fn(f64, f64) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let queue = number(c, r#"g.svc[data-service="kitchen"]"#, "data-queue").await;
        let red = number(c, "#dots", "data-red").await;
        if pred(queue, red) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{what}: not within {limit:?} (queue {queue}, red dots {red})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A headless Chromium session on `url`, once the page's stream is live.
async fn open(driver: &Driver, url: &str) -> Client {
    let c = driver.session(1400, 1100).await;
    c.goto(url).await.unwrap();
    let connected = Instant::now();
    loop {
        let state = c.find(Locator::Css("#status")).await.unwrap();
        if state.attr("data-state").await.unwrap().as_deref() == Some("live") {
            return c;
        }
        assert!(
            connected.elapsed() < Duration::from_secs(15),
            "the stream never connected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types `value` into a generator's level box and presses its button.
async fn set_level(c: &Client, generator: &str, value: &str) {
    let row = format!(r#"tr[data-generator="{generator}"]"#);
    let input = c
        .find(Locator::Css(&format!("{row} input.level")))
        .await
        .unwrap();
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
    c.find(Locator::Css(&format!("{row} button.apply")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Clicks an answered dot (sent at least two seconds ago, so its spans are
/// written) and sees its chain: the kitchen's hop with its queue wait; its
/// "queue then" pins the kitchen on the graph.
async fn open_a_chain(c: &Client) {
    let start = Instant::now();
    loop {
        c.execute(
            "const cv = document.getElementById('dots'); const r = cv.getBoundingClientRect();
             const d = done.filter(x => x[4] && x[3] === 'ok' && x[1] < now - 2).pop();
             if (d) cv.dispatchEvent(new MouseEvent('click', {bubbles: true,
                 clientX: r.left + dotsAt.X(d[1]) * r.width / cv.width,
                 clientY: r.top + dotsAt.Y(d[2]) * r.height / cv.height}));",
            vec![],
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let text = c
            .find(Locator::Id("chain-panel"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("kitchen#0 (server) serving kitchen/Cook") {
            assert!(text.contains("(client) calling kitchen/Cook"), "{text}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no chain opened: {text}"
        );
    }
    c.find(Locator::Css("#chain-panel a.queue"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let pinned = c
        .execute("return document.querySelectorAll('#graph g.svc.pinned[data-service=\"kitchen\"]').length", vec![])
        .await
        .unwrap();
    assert_eq!(pinned, json!(1), "the kitchen is pinned on the graph");
    shot(c, "lab-diner-chain.png").await;
}

#[test]
fn the_diners_lab_in_a_real_browser() {
    if !require_peer(&CHROMIUM) || !require_peer(&CHROMEDRIVER) {
        return;
    }
    let sb = Sandbox::new();
    let lab = Lab::start(&sb, &[]);
    let driver = Driver::start();
    let url = lab.url();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (rise, drain) = runtime.block_on(async {
        let c = open(&driver, &url).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        shot(&c, "lab-diner-start.png").await;
        // The rush is held at 5/s in a lab: pause it, as a learner would,
        // so the regulars alone decide the queue.
        c.find(Locator::Css(
            r#"tr[data-generator="lunch-rush"] button.pause"#,
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        set_level(&c, "regulars", "9").await;
        // 9/s at a cook of 5/s: the rail grows by ~4 tickets a second.
        let rise = until(
            &c,
            "queue past 5 and red dots",
            Duration::from_secs(15),
            |q, red| q > 5.0 && red > 0.0,
        )
        .await;
        shot(&c, "lab-diner-9-per-s.png").await;
        open_a_chain(&c).await;
        set_level(&c, "regulars", "2").await;
        let drain = until(&c, "the queue drained", Duration::from_secs(30), |q, _| {
            q <= 1.0
        })
        .await;
        shot(&c, "lab-diner-2-per-s.png").await;
        let text = c
            .find(Locator::Css("#actions"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains("set load.regulars.rate=9/s"), "{text}");
        assert!(text.contains("pause lunch-rush"), "{text}");
        c.close().await.unwrap();
        (rise, drain)
    });
    eprintln!("queue past 5 with red dots {rise:?} after 9/s; drained {drain:?} after 2/s");
    let (status, said) = lab.stop();
    assert!(status.success(), "{said}");
    assert!(sb.out().join("lab.yaml").exists());
}

/// The topology's name is user text: markup in it is shown, not run.
#[test]
fn names_from_the_topology_are_shown_as_text() {
    if !require_peer(&CHROMIUM) || !require_peer(&CHROMEDRIVER) {
        return;
    }
    let sb = Sandbox::new();
    let name = "<img src=x onerror=alert(1)>";
    let file = sb.file(
        "markup.yaml",
        &format!(
            "name: \"{name}\"\nservices:\n  kitchen:\n    endpoints:\n      Cook: {{ steps: [ {{work: 10ms}} ] }}\nload:\n  bold:\n    target: kitchen/Cook\n    rate: 3/s\n    duration: 5s\n"
        ),
    );
    let lab = Lab::start(&sb, &[file.to_str().unwrap()]);
    let driver = Driver::start();
    let url = lab.url();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let c = open(&driver, &url).await;
        let shown = c
            .find(Locator::Css("#name"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(shown, name);
        let images = c
            .execute("return document.querySelectorAll('img').length", vec![])
            .await
            .unwrap();
        assert_eq!(images, json!(0), "markup in a name became an element");
        c.close().await.unwrap();
    });
    let (status, said) = lab.stop();
    assert!(status.success(), "{said}");
}

/// The text of replica `id`'s `k` cell in the replicas table ("" when absent).
async fn replica_cell(c: &Client, id: &str, k: &str) -> String {
    let css = format!(r#"#replicas tr[data-replica="{id}"] td[data-k="{k}"]"#);
    match c.find(Locator::Css(&css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[test]
fn on_spof_adding_a_replica_in_the_page_spreads_the_load() {
    if !require_peer(&CHROMIUM) || !require_peer(&CHROMEDRIVER) {
        return;
    }
    let sb = Sandbox::new();
    let lab = Lab::start(&sb, &["topologies/spof.yaml"]);
    let driver = Driver::start();
    let url = lab.url();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let c = open(&driver, &url).await;
        let row = r#"#services tr[data-service="fleet"]"#;
        let input = c
            .find(Locator::Css(&format!("{row} input.replicas")))
            .await
            .unwrap();
        input.clear().await.unwrap();
        input.send_keys("4").await.unwrap();
        c.find(Locator::Css(&format!("{row} button.apply")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let start = Instant::now();
        loop {
            let arrived: f64 = replica_cell(&c, "fleet#3", "arrived_s")
                .await
                .parse()
                .unwrap_or(0.0);
            if arrived > 0.0 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "fleet#3 took no call on the page"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        shot(&c, "lab-spof-4-replicas.png").await;
        c.close().await.unwrap();
    });
    let (status, said) = lab.stop();
    assert!(status.success(), "{said}");
    let s = common::read_summary(&sb.out());
    let spread = &s["services"]["lb"]["calls"]["fleet/Feed"]["per_replica"];
    assert_eq!(spread.as_array().map(Vec::len), Some(4), "{spread}");
}
