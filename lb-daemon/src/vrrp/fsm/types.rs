//! The vocabulary of the state machine: states, configuration, inputs,
//! outputs and the reasons logged with them.
use std::{fmt, net::IpAddr, time::Duration};

use super::super::Version;

/// Monotonic time since an arbitrary origin; the runner maps its clock onto it.
pub type Time = Duration;

/// VRRP instance state (RFC 3768/5798 §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum State {
    /// Not started, or stopped.
    Initialize,
    /// Watching the master; the master-down timer runs.
    Backup,
    /// Owning the virtual addresses and advertising.
    Master,
    /// A tracked interface or script failed; adverts are ignored.
    Fault,
}

impl fmt::Display for State {
    /// keepalived's spelling, as in `(VI_1) Entering MASTER STATE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        })
    }
}

/// What a `vrrp_sync_group` needs to know about a member
/// ([`Fsm::sync_view`](super::Fsm::sync_view)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberView {
    /// The member's state.
    pub state: State,
    /// keepalived `wantstate == MASTER`: its master-down timer expired.
    pub wants_master: bool,
    /// A tracked object of the member itself is down.
    pub faulted: bool,
    /// It left MASTER because one of its addresses, routes or rules was
    /// deleted ([`Event::Deleted`]): the MASTER members follow it the same
    /// way, to come back together within a Skew_Time (keepalived
    /// `set_vrrp_backup`).
    pub deleted: bool,
}

/// Configuration of one instance, as read from `vrrp_instance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Protocol version.
    pub version: Version,
    /// Configured (base) priority 1..=255; 255 = address owner.
    pub priority: u8,
    /// Configured advertisement interval.
    pub advert_int: Duration,
    /// `false` with `nopreempt`.
    pub preempt: bool,
    /// keepalived `preempt_delay`.
    pub preempt_delay: Duration,
    /// `state MASTER|BACKUP` from the config (Backup when absent).
    pub initial: State,
    /// Our primary address, for the equal-priority tie-break.
    pub local_addr: IpAddr,
    /// keepalived's strict mode: a master does not answer lower-priority
    /// adverts (`lower_prio_no_advert`), the address owner ignores adverts
    /// (`owner_ignore_adverts`).
    pub strict: bool,
}

/// An input to [`super::Fsm::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The instance starts at time `now`.
    Startup,
    /// An advertisement that passed validation (version, VRID, auth, TTL...).
    Advert {
        /// Source address of the packet.
        src: IpAddr,
        /// Advertised priority (0: the master is stopping).
        priority: u8,
        /// Advertised interval (v3 Max Adver Int; ignored for v2).
        max_advert_int: Duration,
    },
    /// The runner calls `handle(now, Timeout)` when `now >= next_deadline()`.
    Timeout,
    /// `true`: a tracked interface/script puts the instance in FAULT;
    /// `false`: that fault cleared. Level-triggered: repeats are ignored.
    Fault(bool),
    /// Effective priority changed (tracking weights), 1..=254.
    Priority(u8),
    /// A configuration reload changed settings that do not change which
    /// virtual router this is (priority, intervals, preemption): applied in
    /// place, as keepalived does, without a state change. `priority` is the
    /// new effective priority (tracking weights applied).
    Reconfigure {
        /// The new configuration (`local_addr` is kept as it is).
        params: Params,
        /// The new effective priority.
        priority: u8,
    },
    /// The daemon is stopping.
    Shutdown,
    /// Not in the RFC: a virtual address, route or rule the MASTER added was
    /// deleted by someone else (keepalived `set_vrrp_backup`).
    Deleted,
    /// Not in the RFC: the instance's `vrrp_sync_group` forces this state
    /// on it. Produced by [`crate::vrrp::sync_group::SyncGroup::reconcile`].
    SyncGroup(State),
}

/// An output of [`super::Fsm::handle`], in the order the runner must apply them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send an advertisement with this priority (0 on shutdown/fault).
    SendAdvert {
        /// Priority to put in the packet.
        priority: u8,
    },
    /// State change; the runner adds/removes VIPs, sends GARP/NA, runs
    /// notify scripts, logs.
    Transition {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: Reason,
    },
}

/// Why a transition (or a notable non-transition, see
/// [`super::Fsm::notices`]) happened. `Display` gives keepalived's log phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Startup into BACKUP or FAULT (`Entering BACKUP STATE (init)`).
    Init,
    /// Startup of the address owner (priority 255): MASTER at once.
    AddressOwner,
    /// The master-down timer expired.
    MasterDown,
    /// A master heard a higher priority.
    HigherPriority {
        /// The new master.
        from: IpAddr,
        /// Its priority.
        priority: u8,
        /// Ours.
        ours: u8,
    },
    /// A master heard its own priority from a higher primary address.
    HigherAddress {
        /// The new master.
        from: IpAddr,
        /// The common priority.
        priority: u8,
    },
    /// Notice: a master heard a lower priority (and answered at once,
    /// forcing a new election, unless in strict mode).
    LowerPriority {
        /// The sender.
        from: IpAddr,
        /// Its priority.
        priority: u8,
        /// Ours.
        ours: u8,
        /// Whether an advert was sent at once.
        election: bool,
    },
    /// Notice: the address owner in strict mode dropped an advert.
    OwnerIgnoresAdvert {
        /// The sender.
        from: IpAddr,
    },
    /// Notice: a preempting backup ignored a lower-priority master.
    LowerPriorityDiscarded {
        /// The sender.
        from: IpAddr,
        /// Its priority.
        priority: u8,
    },
    /// Notice: a backup heard priority 0; it takes over after Skew_Time.
    BackupPriorityZero,
    /// Notice: a master heard priority 0 and answered at once.
    MasterPriorityZero,
    /// Notice: an advert with our priority came from our own address.
    OwnAddress,
    /// Notice: two address owners; ours drops to 254 (keepalived workaround).
    OwnerConflict,
    /// Notice: a lower-priority master was seen; preemption waits this long.
    PreemptDelayStart(Duration),
    /// Notice: an equal-or-higher master was seen; the preempt delay stops.
    PreemptDelayStop,
    /// Notice: v3 Master_Adver_Interval learned from the master.
    AdvertIntervalUpdated {
        /// Previous value.
        from: Duration,
        /// New value.
        to: Duration,
    },
    /// Notice: the effective priority changed.
    PriorityChanged {
        /// Previous value.
        from: u8,
        /// New value.
        to: u8,
    },
    /// A tracked interface or script failed.
    Fault,
    /// The tracked interfaces and scripts recovered.
    FaultCleared,
    /// The daemon is stopping.
    Shutdown,
    /// The sync group forced this state.
    SyncGroup(State),
    /// The instance replaced one that was MASTER before a reload.
    Resumed,
    /// A virtual address, route or rule of the MASTER was deleted.
    Deleted,
    /// Notice: a sync-group member waits for its group before changing state.
    SyncGroupWait,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Init => f.write_str("init"),
            Reason::AddressOwner => f.write_str("address owner (priority 255)"),
            Reason::MasterDown => f.write_str("Receive advertisement timeout"),
            Reason::HigherPriority { from, priority, ours } => write!(
                f,
                "Master received advert from {from} with higher priority {priority}, ours {ours}"
            ),
            Reason::HigherAddress { from, priority } => write!(
                f,
                "Master received advert from {from} with same priority {priority} but higher IP address than ours"
            ),
            Reason::LowerPriority {
                from,
                priority,
                ours,
                election,
            } => write!(
                f,
                "Received advert from {from} with lower priority {priority}, ours {ours}{}",
                if *election { ", forcing new election" } else { "" }
            ),
            Reason::OwnerIgnoresAdvert { from } => write!(
                f,
                "Dropping packet(s) from {from} since we are address owner"
            ),
            Reason::LowerPriorityDiscarded { from, priority } => write!(
                f,
                "received lower priority ({priority}) advert from {from} - discarding"
            ),
            Reason::BackupPriorityZero => f.write_str("Backup received priority 0 advertisement"),
            Reason::MasterPriorityZero => f.write_str("Master received priority 0 message"),
            Reason::OwnAddress => f.write_str(
                "WARNING - equal priority advert received from remote host with our IP address.",
            ),
            Reason::OwnerConflict => f.write_str(
                "CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority",
            ),
            Reason::PreemptDelayStart(d) => write!(f, "start preempt delay ({:.6})", d.as_secs_f64()),
            Reason::PreemptDelayStop => f.write_str("stop preempt delay"),
            Reason::AdvertIntervalUpdated { from, to } => write!(
                f,
                "advertisement interval updated from {}ms to {}ms by master",
                from.as_millis(),
                to.as_millis()
            ),
            Reason::PriorityChanged { from, to } => {
                write!(f, "Changing effective priority from {from} to {to}")
            }
            Reason::Fault => f.write_str("tracked interface or script down"),
            Reason::FaultCleared => f.write_str("tracked interfaces and scripts up"),
            Reason::Shutdown => f.write_str("Stopping"),
            Reason::SyncGroup(state) => write!(f, "Syncing instances to {state} state"),
            Reason::Resumed => f.write_str("was MASTER before the configuration reload"),
            Reason::Deleted => f.write_str("a virtual address, route or rule was deleted"),
            Reason::SyncGroupWait => f.write_str("waiting for the other sync group members"),
        }
    }
}
