//! keepalived's strict mode applied to a resolved instance: the settings
//! keepalived corrects in strict mode (`vrrp_complete_instance`), each of
//! which configuration validation reports as a warning naming the keyword
//! (`config::validate::strict`). The state machine's part (no answer to
//! lower priorities, the owner ignoring adverts) follows `Params::strict`.
use std::time::Duration;

use crate::config::GlobalDefs;

use super::InstanceSpec;
use crate::vrrp::{fsm::State, packet::Auth};

/// Applies strict mode to `spec` when its configuration asks for it (the
/// instance's `strict_mode`, else `vrrp_strict` in `global`), and records
/// the accept mode the firewall follows.
pub fn apply(spec: &mut InstanceSpec, global: &GlobalDefs) {
    spec.accept = spec.config.accepts(global);
    spec.strict = spec.config.strict(global);
    if !spec.strict {
        return;
    }
    let owner = spec.priority == u8::MAX;
    spec.auth = Auth::None;
    spec.initial = match owner {
        true => State::Master,
        false => State::Backup,
    };
    if !owner {
        spec.preempt_delay = Duration::ZERO;
    }
    spec.garp.lower_prio_delay = Duration::ZERO;
    spec.garp.lower_prio_repeat = 0;
    if let Some(vmac) = &mut spec.vmac {
        vmac.xmit_base = false;
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::parse_keepalived_str;

    fn spec(global: &str, extra: &str) -> InstanceSpec {
        let text = format!(
            "global_defs {{\n{global}\n}}\nvrrp_instance VI_1 {{\n{extra}\n interface eth0\n \
             virtual_router_id 1\n virtual_ipaddress {{\n 192.0.2.50/24\n }}\n}}\n"
        );
        let loaded = parse_keepalived_str(&text, Path::new("k.conf")).unwrap();
        InstanceSpec::new(&loaded.config.vrrp_instance[0], &loaded.config)
    }

    #[test]
    fn strict_corrects_what_keepalived_corrects() {
        let extra = " state MASTER\n priority 150\n preempt_delay 4\n garp_lower_prio_repeat 3\n \
                     authentication {\n auth_type PASS\n auth_pass secret\n }";
        let loose = spec("", extra);
        assert!(!loose.strict && loose.accept);
        assert_eq!(
            (loose.initial, loose.auth.clone()),
            (State::Master, Auth::pass("secret"))
        );
        let strict = spec(" vrrp_strict", extra);
        assert!(strict.strict);
        assert_eq!((strict.initial, &strict.auth), (State::Backup, &Auth::None));
        assert_eq!(strict.preempt_delay, Duration::ZERO);
        assert_eq!(strict.garp.lower_prio_repeat, 0);
        assert_eq!(strict.garp.lower_prio_delay, Duration::ZERO);
        assert!(strict.fsm_params("192.0.2.1".parse().unwrap()).strict);
    }

    #[test]
    fn accept_mode_defaults_like_keepalived() {
        // Off by default in strict mode, on otherwise; `no_accept` and
        // `accept` override; the owner always accepts; strict VRRPv2 never
        // accepts.
        assert!(!spec(" vrrp_strict", "").accept);
        assert!(spec("", "").accept);
        assert!(!spec("", " no_accept").accept);
        assert!(spec(" vrrp_strict", " priority 255").accept);
        assert!(!spec(" vrrp_strict", " accept").accept);
        assert!(spec(" vrrp_strict", " accept\n version 3").accept);
        assert!(!spec(" vrrp_strict", " strict_mode off\n no_accept").strict);
    }
}
