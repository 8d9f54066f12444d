//! The desired load-balancing state: the one model the IPVS and XDP
//! programmers consume. Built from the configuration's `virtual_server`s,
//! driven by the checker engine's [`VerdictChange`](crate::check::VerdictChange)s,
//! published through a `tokio::sync::watch` channel.
//!
//! * [`types`]: what is published ([`DesiredState`]);
//! * [`Model`]: the pure rules (keepalived's `ipwrapper.c`);
//! * [`channel`] / [`DesiredPublisher`]: the running task;
//! * [`suspended`]: which services `ha_suspend` pauses;
//! * [`Carried`]: verdicts kept across a reload;
//! * [`ServiceRef`] / [`Model::set_drained`]: the operator's drain override.
mod backends;
mod carry;
mod drain;
mod lines;
mod model;
mod runtime;
mod server_state;
mod services;
mod status;
mod suspend;
pub mod types;

pub use carry::Carried;
pub use drain::{parse_endpoint, Drained, ServiceRef};
pub use model::{Applied, Counts, Effect, Event, Model};
pub use runtime::{
    channel, channel_carrying, DesiredPublisher, Timing, COMMAND_TIMEOUT, STOP_TIMEOUT,
};
pub use services::{address_range, prefix_len, DEFAULT_FAST_PATH};
pub use status::{RealView, VirtualView};
pub use suspend::suspended;
pub use types::{Backend, DesiredState, Family, Persistence, ServiceKey, VirtualService};
