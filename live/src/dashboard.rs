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

use super::snapshot::{LoadNow, Phase, ServiceNow, Snapshot, Taker};
use super::{Sources, keys};
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
    let mut picked = keys::Picked::default();
    let generators: Vec<String> = sources
        .topology
        .load
        .iter()
        .map(|g| g.name.clone())
        .collect();
    let replicas: Vec<String> = sources
        .topology
        .services
        .iter()
        .flat_map(|s| (0..s.replicas).map(move |i| format!("{}#{i}", s.name)))
        .collect();
    while !done.load(Ordering::Relaxed) {
        let snap = taker.take(sources);
        let picks = sources.keys.as_ref().map(|_| {
            (
                generators
                    .get(picked.generator)
                    .cloned()
                    .unwrap_or_default(),
                replicas.get(picked.replica).cloned().unwrap_or_default(),
            )
        });
        terminal.draw(|f| draw(f, sources, &snap, stopping, picks.as_ref()))?;
        if event::poll(FRAME)?
            && let Event::Key(k) = event::read()?
            && k.kind == KeyEventKind::Press
        {
            let ctrl_c =
                k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
            if ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                stopping += 1;
                let _ = stop.send(());
            } else if let Some(keys) = &sources.keys
                && let Some(said) =
                    keys::press(&**keys, k.code, &mut picked, &generators, &replicas)
            {
                notice::say(said);
            }
        }
    }
    ratatui::try_restore()
}

/// Draws one frame; `picks` (the picked generator and replica) when the
/// run can be steered from the keys.
fn draw(
    f: &mut Frame,
    src: &Sources,
    s: &Snapshot,
    stopping: u32,
    picks: Option<&(String, String)>,
) {
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

    let title = match picks {
        // Steered (the lab): it runs until stopped.
        Some(_) => format!(
            " topolab · {} · {:.1} s, until stopped",
            src.topology.name,
            s.elapsed.as_secs_f64()
        ),
        None => format!(
            " topolab · {} · {:.1} / {:.1} s",
            src.topology.name,
            s.elapsed.as_secs_f64(),
            src.planned.as_secs_f64()
        ),
    };
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
                let mut line = load_line(name, l, width);
                if picks.is_some_and(|(g, _)| g == name) {
                    line.spans
                        .insert(0, Span::styled("▶ ", Style::default().fg(Color::Green)));
                }
                std::iter::once(line).chain(follow)
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

    let steer = picks.map(|(_, r)| format!("{} (replica: {r})", keys::HELP));
    let help = match stopping {
        0 if steer.is_some() => steer.as_deref().unwrap_or_default(),
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
        Span::raw(format!("{:>7.1} sent/s  sent {}  ", l.rate, l.sent)),
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

/// `name  ██··  2/2 busy  ███·······  6/64 queued  3 rejected`: busy
/// workers against the workers, and the queue against its own capacity (an
/// unbounded one against the workers: full once more wait than can be
/// served at once), so a small pool that is all busy reads full beside a
/// big queue that is not. A service with `updates` adds `40 held  10
/// streams`: the open questions it is keeping (held long polls, open
/// subscription streams).
fn service_line(name: &str, v: &ServiceNow, label: usize, width: usize) -> Line<'static> {
    // Figures padded to fixed widths, so every line's bars start and end in
    // the same columns.
    let busy = format!("  {:>9} busy  ", format!("{}/{}", v.in_flight, v.workers));
    let cap = v.capacity.map_or("∞".to_string(), |c| c.to_string());
    let mut queued = format!(
        "  {:>11} queued  {:>4} rejected",
        format!("{}/{cap}", v.queued),
        v.rejected_recent
    );
    if let Some((held, streams)) = v.follows {
        queued += &format!("  {held} held  {streams} streams");
    }
    let room = width.saturating_sub(label + 2 + busy.chars().count() + queued.chars().count());
    let (workers_bar, queue_bar) = ((room / 3).max(5), (room - room / 3).max(10));
    let (blue, free_w) = cells(v.in_flight, v.workers, workers_bar);
    let (yellow, free_q) = cells(v.queued, v.capacity.unwrap_or(v.workers), queue_bar);
    let red = red_cells(v.rejected_recent, free_q);
    let dots = |n: usize| Span::styled("·".repeat(n), Style::default().fg(Color::DarkGray));
    Line::from(vec![
        Span::raw(format!("{name:<label$}  ")),
        Span::styled("█".repeat(blue), Style::default().fg(Color::Blue)),
        dots(free_w),
        Span::raw(busy),
        Span::styled("█".repeat(yellow), Style::default().fg(Color::Yellow)),
        Span::styled("█".repeat(red), Style::default().fg(Color::Red)),
        dots(free_q - red),
        Span::raw(queued),
    ])
}

/// Cells of a `bar` filled by `n` of `of` (full, never more, when `n`
/// exceeds it), and the cells left.
fn cells(n: u64, of: u64, bar: usize) -> (usize, usize) {
    let filled = if of == 0 {
        if n > 0 { bar } else { 0 }
    } else {
        ((n as f64 / of as f64) * bar as f64).round() as usize
    }
    .min(bar);
    (filled, bar - filled)
}

/// Cells of the queue's bar left over that show recent rejections: one at
/// least when there were any, at most eight.
fn red_cells(rejected: u64, free: usize) -> usize {
    if rejected == 0 {
        return 0;
    }
    (rejected as usize).clamp(1, free.clamp(1, 8)).min(free)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &ServiceNow) -> String {
        service_line("db", v, 2, 100)
            .spans
            .iter()
            .map(|s| s.content.to_string())
            .collect()
    }

    #[test]
    fn each_bar_is_against_its_own_limit_and_never_overflows() {
        assert_eq!(cells(2, 2, 10), (10, 0), "two of two workers: full");
        assert_eq!(cells(6, 64, 20), (2, 18));
        assert_eq!(cells(90, 64, 20), (20, 0), "never past the bar");
        assert_eq!(cells(0, 0, 20), (0, 20));
        assert_eq!(red_cells(50, 0), 0);
        assert_eq!(red_cells(50, 20), 8);
        assert_eq!(red_cells(1, 20), 1);
        // The cascade's height: db's one worker busy reads full, though its
        // queue is nearly empty.
        let db = ServiceNow {
            in_flight: 2,
            workers: 2,
            queued: 1,
            capacity: Some(64),
            ..Default::default()
        };
        let spans = service_line("db", &db, 2, 100).spans;
        let (blue, free_workers) = (&spans[1].content, &spans[2].content);
        assert!(
            !blue.is_empty() && free_workers.is_empty(),
            "the workers' bar is full: {}",
            text(&db)
        );
        let yellow = spans[4].content.chars().count();
        let free_queue = spans[6].content.chars().count();
        assert!(
            yellow <= free_queue / 10,
            "the queue's bar is nearly empty: {}",
            text(&db)
        );
        // A frontend with 64 workers, 20 busy, reads a third full.
        let front = ServiceNow {
            in_flight: 20,
            workers: 64,
            ..db
        };
        let spans = service_line("frontend", &front, 8, 100).spans;
        assert!(!spans[2].content.is_empty(), "{}", text(&front));
    }

    #[test]
    fn a_service_with_updates_shows_its_held_requests_and_open_streams() {
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
