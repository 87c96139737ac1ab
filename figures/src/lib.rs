//! What one endpoint counts and measures, and what one caller's calls to one
//! callee endpoint came to: one type each for the replica that counts them,
//! the launcher that adds the replicas up and takes the warmup off, and the
//! simulator that predicts them, so a figure means the same thing whichever
//! engine produced it ([`EndpointFigures`], [`CallFigures`]), and how fresh a
//! following generator's clients kept their view ([`Freshness`]).
//!
//! It holds counts and histograms only: no locks, clocks, I/O or formats
//! (the replica locks it and encodes it for the launcher, the launcher
//! decodes it, `topolab-results` summarizes it for `summary.json`).

mod call;
mod endpoint;
mod freshness;
mod histogram;

pub use call::CallFigures;
pub use endpoint::{Ending, EndpointFigures, FollowFigures};
pub use freshness::Freshness;
pub use histogram::{histogram, record};
