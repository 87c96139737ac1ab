//! The live dashboard (ratatui), when stdout is a terminal: per service a bar
//! of workers busy (blue), requests queued (yellow) and recent rejections
//! (red); per load generator its counts, current rate and latency (or when
//! it starts); below them a pane of the run's notices (faults, restarts,
//! warnings), which would otherwise write over the frame. Redrawn ten times a
//! second; `q`, Esc or Ctrl-C asks the run to stop, the same way a Ctrl-C
//! signal does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use tokio::sync::mpsc;

use super::Sources;
use super::snapshot::{LoadNow, Phase, ServiceNow, Snapshot, Taker};
use topolab_notice as notice;

/// Most notice lines the pane shows (the newest; all of them reach the
/// scrollback when the dashboard closes).
const PANE_LINES: usize = 6;

/// Time between redraws (and the longest a key press waits to be seen).
const FRAME: Duration = Duration::from_millis(100);

/// Draws until `done`; sends on `stop` for each stop key press.
pub fn run(
    sources: &Sources,
    done: &AtomicBool,
    stop: &mpsc::UnboundedSender<()>,
) -> std::io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let mut taker = Taker::default();
    let mut stopping = 0;
    while !done.load(Ordering::Relaxed) {
        let snap = taker.take(sources);
        terminal.draw(|f| draw(f, sources, &snap, stopping))?;
        if event::poll(FRAME)?
            && let Event::Key(k) = event::read()?
            && k.kind == KeyEventKind::Press
        {
            let ctrl_c =
                k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
            if ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                stopping += 1;
                let _ = stop.send(());
            }
        }
    }
    ratatui::try_restore()
}

fn draw(f: &mut Frame, src: &Sources, s: &Snapshot, stopping: u32) {
    let notices = notice::recent(PANE_LINES);
    let pane = if notices.is_empty() {
        0
    } else {
        notices.len() as u16 + 2
    };
    let rows = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(
            (s.load.len() + s.load.iter().filter(|(_, l)| l.staleness.is_some()).count()).max(1)
                as u16
                + 2,
        ),
        Constraint::Min(3),
        Constraint::Length(pane),
        Constraint::Length(1),
    ])
    .split(f.area());

    let title = format!(
        " topolab · {} · {:.1} / {:.1} s",
        src.topology.name,
        s.elapsed.as_secs_f64(),
        src.planned.as_secs_f64()
    );
    f.render_widget(
        Paragraph::new(title).style(Style::default().add_modifier(Modifier::BOLD)),
        rows[0],
    );

    let load: Vec<Line> = if s.load.is_empty() {
        vec![Line::from(
            "no load in this topology: services are up until q or Ctrl-C",
        )]
    } else {
        // Names padded to one width, so the figures line up in columns.
        let width = s
            .load
            .iter()
            .map(|(name, l)| name.chars().count() + l.target.chars().count() + 3)
            .max()
            .unwrap_or(0);
        s.load
            .iter()
            .flat_map(|(name, l)| {
                let follow = l.staleness.as_ref().map(|text| {
                    Line::from(Span::styled(
                        format!("    {text}"),
                        Style::default().fg(Color::Cyan),
                    ))
                });
                std::iter::once(load_line(name, l, width)).chain(follow)
            })
            .collect()
    };
    f.render_widget(
        Paragraph::new(load).block(Block::bordered().title(" load ")),
        rows[1],
    );

    let width = rows[2].width.saturating_sub(2) as usize;
    let label = s.services.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let services: Vec<Line> = s
        .services
        .iter()
        .map(|(name, v)| service_line(name, v, label, width))
        .collect();
    f.render_widget(
        Paragraph::new(services).block(Block::bordered().title(Line::from(vec![
            Span::raw(" services: "),
            Span::styled("in flight", Style::default().fg(Color::Blue)),
            Span::raw(" · "),
            Span::styled("queued", Style::default().fg(Color::Yellow)),
            Span::raw(" · "),
            Span::styled("rejected (last second)", Style::default().fg(Color::Red)),
            Span::raw(" "),
        ]))),
        rows[2],
    );

    if !notices.is_empty() {
        let lines: Vec<Line> = notices.into_iter().map(Line::from).collect();
        f.render_widget(
            Paragraph::new(lines)
                .style(Style::default().fg(Color::Gray))
                .block(
                    Block::bordered().title(" notices (printed again when the dashboard closes) "),
                ),
            rows[3],
        );
    }

    let help = match stopping {
        0 => " q or Ctrl-C: stop the load",
        1 => " stopping: waiting for requests in flight (q or Ctrl-C again to abandon them)",
        _ => " abandoning requests in flight",
    };
    f.render_widget(
        Paragraph::new(help).style(Style::default().add_modifier(Modifier::DIM)),
        rows[4],
    );
}

/// One generator: its counts and latency so far, or, before its `start`,
/// when it begins (no figures exist yet, and zeros would read as measured).
fn load_line(name: &str, l: &LoadNow, width: usize) -> Line<'static> {
    let head = Span::styled(
        format!("{:<width$}  ", format!("{name} → {}", l.target)),
        Style::default().add_modifier(Modifier::BOLD),
    );
    if let Phase::Waiting(secs) = l.phase {
        return Line::from(vec![
            head,
            Span::styled(
                format!("not started yet: starts in {secs:.1} s"),
                Style::default().add_modifier(Modifier::DIM),
            ),
        ]);
    }
    let latency = if l.ok == 0 {
        "no OK response yet".to_string()
    } else {
        format!("p50 {:.1} ms  p99 {:.1} ms", l.p50_ms, l.p99_ms)
    };
    let done = if l.phase == Phase::Done {
        "  (done)"
    } else {
        ""
    };
    Line::from(vec![
        head,
        Span::raw(format!("{:>7.1}/s  sent {}  ", l.rate, l.sent)),
        Span::styled(format!("ok {}  ", l.ok), Style::default().fg(Color::Green)),
        Span::styled(
            format!("rejected {}  ", l.rejected),
            Style::default().fg(Color::Red),
        ),
        Span::raw(format!(
            "timeouts {}  errors {}  {latency}{done}",
            l.timeouts, l.errors
        )),
    ])
}

/// `name  ███▒▒▒▒░  2/2 busy  6/64 queued  3 rejected`: the bar spans the
/// workers plus the queue's capacity (or, unbounded, what is queued now).
/// A service with `updates` adds `40 held  10 streams`: the open questions
/// it is keeping (held long polls, open subscription streams).
fn service_line(name: &str, v: &ServiceNow, label: usize, width: usize) -> Line<'static> {
    let mut figures = format!(
        "  {}/{} busy  {}/{} queued  {} rejected",
        v.in_flight,
        v.workers,
        v.queued,
        v.capacity.map_or("∞".to_string(), |c| c.to_string()),
        v.rejected_recent
    );
    if let Some((held, streams)) = v.follows {
        figures += &format!("  {held} held  {streams} streams");
    }
    let bar = width
        .saturating_sub(label + 2 + figures.chars().count())
        .max(10);
    let (blue, yellow, red) = bar_cells(v, bar);
    Line::from(vec![
        Span::raw(format!("{name:<label$}  ")),
        Span::styled("█".repeat(blue), Style::default().fg(Color::Blue)),
        Span::styled("█".repeat(yellow), Style::default().fg(Color::Yellow)),
        Span::styled("█".repeat(red), Style::default().fg(Color::Red)),
        Span::styled(
            "·".repeat(bar - blue - yellow - red),
            Style::default().fg(Color::DarkGray),
        ),
        Span::raw(figures),
    ])
}

/// Cells of the bar for busy, queued and rejected; rejections take the cells
/// left over, one at least when there were any.
fn bar_cells(v: &ServiceNow, bar: usize) -> (usize, usize, usize) {
    let span = (v.workers + v.capacity.unwrap_or(v.queued)).max(1) as f64;
    let cells = |n: u64| ((n as f64 / span) * bar as f64).round() as usize;
    let blue = cells(v.in_flight).min(bar);
    let yellow = cells(v.queued).min(bar - blue);
    let free = bar - blue - yellow;
    let red = if v.rejected_recent > 0 {
        (v.rejected_recent as usize)
            .clamp(1, free.clamp(1, 8))
            .min(free)
    } else {
        0
    };
    (blue, yellow, red)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_is_split_by_share_and_never_overflows() {
        let v = ServiceNow {
            in_flight: 2,
            queued: 2,
            workers: 2,
            capacity: Some(2),
            rejected_recent: 50,
            follows: None,
        };
        assert_eq!(bar_cells(&v, 20), (10, 10, 0));
        let v = ServiceNow { queued: 0, ..v };
        assert_eq!(bar_cells(&v, 20), (10, 0, 8));
        let idle = ServiceNow::default();
        assert_eq!(bar_cells(&idle, 20), (0, 0, 0));
    }

    #[test]
    fn a_service_with_updates_shows_its_held_requests_and_open_streams() {
        let text = |v: &ServiceNow| {
            service_line("scores", v, 6, 100)
                .spans
                .iter()
                .map(|s| s.content.to_string())
                .collect::<String>()
        };
        let plain = ServiceNow::default();
        assert!(!text(&plain).contains("held"), "{}", text(&plain));
        let following = ServiceNow {
            follows: Some((40, 10)),
            ..plain
        };
        assert!(
            text(&following).ends_with("40 held  10 streams"),
            "{}",
            text(&following)
        );
    }
}
