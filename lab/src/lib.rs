//! The lab: a running topology watched and steered from a browser. It owns
//! the HTTP server (a session token on every request, [`auth`]), the one
//! page with its script and style embedded in the binary ([`page`]), the
//! API (`/api/state`, `/api/events`, `/api/control`), the commands that
//! change the running experiment ([`control`]), the figures streamed to the
//! page ([`frames`]), the simulator's prediction beside them (`ghost`) and, once stopped, the session written back as a
//! topology that `topolab run` replays ([`replay`]).
//!
//! The run itself is the launcher's: the lab attaches to it through
//! [`topolab_launcher::attach::Steering`].

pub mod auth;
mod capacity;
pub mod control;
pub mod frames;
mod ghost;
mod keys;
mod page;
pub mod replay;
mod scale;
mod server;
pub mod session;
mod tell;
mod versions;

pub use server::serve;
pub use session::{Session, Setup};
