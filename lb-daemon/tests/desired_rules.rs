//! The desired-state rules, one keepalived behaviour per test.
mod desired_common;

use desired_common::*;
use lb_daemon::check::{RealServerId, VerdictChange};
use lb_daemon::config::{GroupMember, LbKind, VirtualServerGroup};
use lb_daemon::state::desired::{Event, Family, Model, ServiceKey};

const RS0: RealServerId = RealServerId { vs: 0, rs: 0 };
const RS1: RealServerId = RealServerId { vs: 0, rs: 1 };

fn events(effects: &[lb_daemon::state::desired::Effect]) -> Vec<Event> {
    effects.iter().map(|e| e.event).collect()
}

#[test]
fn real_servers_without_checkers_start_up_and_quorum_up_runs() {
    let mut vs = server(vec![real(1, 0), real(2, 0)]);
    vs.quorum_up = Some(command("/bin/true up"));
    let (model, effects) = Model::new(&config(vec![vs]));
    assert_eq!(
        weights(&model, 0),
        vec![(ip("10.0.0.1"), 1), (ip("10.0.0.2"), 1)]
    );
    assert_eq!(events(&effects), vec![Event::QuorumUp(0)]);
    assert_eq!(effects[0].command, Some(command("/bin/true up")));
    let svc = service(&model, 0);
    assert_eq!(svc.forwarding, LbKind::Nat);
    assert!(!svc.sorry && !svc.fast_path && svc.persistence.is_none());
}

#[test]
fn fast_path_is_opt_in_per_service_or_globally() {
    let mut cfg = config(vec![server(vec![real(1, 0)])]);
    let fast = |cfg: &lb_daemon::config::Config| service(&Model::new(cfg).0, 0).fast_path;
    assert!(!fast(&cfg), "IPVS only unless asked");
    cfg.global_defs.fast_path = Some(lb_daemon::config::FastPath::Xdp);
    assert!(fast(&cfg), "global_defs fast_path xdp is the default");
    cfg.virtual_server[0].fast_path = Some(lb_daemon::config::FastPath::None);
    assert!(!fast(&cfg), "a virtual server can opt out");
}

#[test]
fn a_failed_real_server_leaves_and_comes_back_with_notifies() {
    let mut reals = vec![real(1, 1), real(2, 0)];
    reals[0].notify_down = Some(command("/bin/echo down"));
    reals[0].notify_up = Some(command("/bin/echo up"));
    let (mut model, _) = Model::new(&config(vec![server(reals)]));
    let effects = apply(&mut model, verdict(0, 0, 0, false));
    assert_eq!(events(&effects), vec![Event::RealServerDown(RS0)]);
    assert_eq!(effects[0].command, Some(command("/bin/echo down")));
    assert_eq!(weights(&model, 0), vec![(ip("10.0.0.2"), 1)]);
    assert!(
        apply(&mut model, verdict(0, 0, 0, false)).is_empty(),
        "no change"
    );
    let effects = apply(&mut model, verdict(0, 0, 0, true));
    assert_eq!(events(&effects), vec![Event::RealServerUp(RS0)]);
    assert_eq!(weights(&model, 0).len(), 2);
}

#[test]
fn a_real_server_is_up_only_while_all_its_checkers_are() {
    let (mut model, _) = Model::new(&config(vec![server(vec![real(1, 2), real(2, 0)])]));
    apply(&mut model, verdict(0, 0, 0, false));
    apply(&mut model, verdict(0, 0, 1, false));
    assert_eq!(model.is_up(RS0), Some(false));
    apply(&mut model, verdict(0, 0, 0, true));
    assert_eq!(model.is_up(RS0), Some(false), "checker 1 still fails");
    apply(&mut model, verdict(0, 0, 1, true));
    assert_eq!(model.is_up(RS0), Some(true));
    assert!(
        apply(&mut model, verdict(0, 0, 7, false)).is_empty(),
        "unknown checker"
    );
    assert!(
        apply(&mut model, verdict(3, 0, 0, false)).is_empty(),
        "unknown vs"
    );
}

#[test]
fn alpha_starts_checked_servers_down() {
    let mut vs = server(vec![real(1, 1), real(2, 0)]);
    vs.alpha = true;
    let (mut model, _) = Model::new(&config(vec![vs]));
    assert_eq!(model.is_up(RS0), Some(false));
    assert_eq!(model.is_up(RS1), Some(true));
    apply(&mut model, verdict(0, 0, 0, true));
    assert_eq!(model.is_up(RS0), Some(true));
}

#[test]
fn alpha_of_a_real_server_or_checker_overrides_the_virtual_servers() {
    let mut reals = vec![real(1, 2), real(2, 1)];
    reals[0].alpha = Some(true);
    reals[0].checker[1].alpha = Some(false);
    let (mut model, _) = Model::new(&config(vec![server(reals)]));
    assert_eq!(model.is_up(RS0), Some(false), "checker 0 starts down");
    assert_eq!(model.is_up(RS1), Some(true));
    apply(&mut model, verdict(0, 0, 0, true));
    assert_eq!(model.is_up(RS0), Some(true), "checker 1 started up");
    let mut vs = server(vec![real(1, 1)]);
    vs.alpha = true;
    vs.real_server[0].checker[0].alpha = Some(false);
    let (model, _) = Model::new(&config(vec![vs]));
    assert_eq!(model.is_up(RS0), Some(true));
}

#[test]
fn the_virtual_servers_weight_is_the_real_servers_default() {
    let mut vs = server(vec![real(1, 0), real(2, 0)]);
    vs.weight = Some(3);
    vs.real_server[1].weight = Some(9);
    let (model, _) = Model::new(&config(vec![vs]));
    assert_eq!(
        weights(&model, 0),
        vec![(ip("10.0.0.1"), 3), (ip("10.0.0.2"), 9)]
    );
}

#[test]
fn inhibit_on_failure_keeps_the_server_with_weight_0() {
    let mut reals = vec![real(1, 1), real(2, 1)];
    reals[0].inhibit_on_failure = true;
    reals[0].weight = Some(5);
    let (mut model, _) = Model::new(&config(vec![server(reals)]));
    apply(&mut model, verdict(0, 0, 0, false));
    apply(&mut model, verdict(0, 1, 0, false));
    assert_eq!(weights(&model, 0), vec![(ip("10.0.0.1"), 0)]);
    assert!(!service(&model, 0).backends[0].up);
    apply(&mut model, verdict(0, 0, 0, true));
    assert_eq!(weights(&model, 0), vec![(ip("10.0.0.1"), 5)]);
    let mut vs = server(vec![real(1, 1)]);
    vs.inhibit_on_failure = true;
    let (mut model, _) = Model::new(&config(vec![vs]));
    apply(&mut model, verdict(0, 0, 0, false));
    assert_eq!(
        weights(&model, 0),
        vec![(ip("10.0.0.1"), 0)],
        "virtual server level"
    );
}

#[test]
fn the_sorry_server_replaces_the_pool_while_the_quorum_is_lost() {
    let mut vs = server(vec![real(1, 1), real(2, 1)]);
    vs.sorry_server = Some(sorry());
    vs.sorry_server_lvs_method = Some(LbKind::Dr);
    vs.quorum_down = Some(command("/bin/echo lost"));
    let (mut model, _) = Model::new(&config(vec![vs]));
    apply(&mut model, verdict(0, 0, 0, false));
    assert!(!service(&model, 0).sorry);
    let effects = apply(&mut model, verdict(0, 1, 0, false));
    assert_eq!(
        events(&effects),
        vec![Event::RealServerDown(RS1), Event::QuorumDown(0)]
    );
    assert_eq!(effects[1].command, Some(command("/bin/echo lost")));
    let svc = service(&model, 0);
    assert!(svc.sorry);
    assert_eq!(weights(&model, 0), vec![(ip("10.9.9.9"), 1)]);
    assert_eq!(svc.backends[0].forwarding, LbKind::Dr);
    assert!(svc.backends[0].sorry);
    apply(&mut model, verdict(0, 1, 0, true));
    assert!(!service(&model, 0).sorry);
    assert_eq!(
        weights(&model, 0),
        vec![(ip("10.0.0.2"), 1)],
        "sorry server left"
    );
}

#[test]
fn sorry_server_inhibit_keeps_it_at_weight_0_and_inhibited_reals_stay() {
    let mut reals = vec![real(1, 1), real(2, 1)];
    reals[1].inhibit_on_failure = true;
    let mut vs = server(reals);
    vs.sorry_server = Some(sorry());
    vs.sorry_server_inhibit = true;
    vs.quorum = Some(2);
    let (mut model, _) = Model::new(&config(vec![vs]));
    assert_eq!(
        weights(&model, 0),
        vec![
            (ip("10.0.0.1"), 1),
            (ip("10.0.0.2"), 1),
            (ip("10.9.9.9"), 0)
        ]
    );
    apply(&mut model, verdict(0, 0, 0, false));
    // Quorum 2 lost with one server still alive: the alive inhibited one
    // is set to weight 0, the sorry server takes over.
    assert_eq!(
        weights(&model, 0),
        vec![(ip("10.0.0.2"), 0), (ip("10.9.9.9"), 1)]
    );
    assert!(service(&model, 0).backends[0].up);
}

#[test]
fn starting_without_quorum_brings_the_sorry_server_in() {
    let mut vs = server(vec![real(1, 1)]);
    vs.alpha = true;
    vs.sorry_server = Some(sorry());
    let (model, effects) = Model::new(&config(vec![vs]));
    assert_eq!(events(&effects), vec![Event::QuorumDown(0)]);
    assert!(service(&model, 0).sorry);
}

#[test]
fn quorum_with_hysteresis_does_not_flap_inside_the_band() {
    // quorum 3, hysteresis 1: gained at 4, lost below 2.
    let mut vs = server((1..=4).map(|n| real(n, 1)).collect());
    vs.quorum = Some(3);
    vs.hysteresis = Some(1);
    vs.alpha = true;
    let (mut model, _) = Model::new(&config(vec![vs]));
    let quorum = |model: &mut Model, rs, up| {
        apply(model, verdict(0, rs, 0, up));
        model.quorum_up(0)
    };
    assert!(!quorum(&mut model, 0, true));
    assert!(!quorum(&mut model, 1, true));
    assert!(!quorum(&mut model, 2, true), "3 < 3 + 1");
    assert!(quorum(&mut model, 3, true));
    assert!(quorum(&mut model, 3, false), "3 >= 3 - 1");
    assert!(quorum(&mut model, 2, false), "2 >= 2");
    assert!(quorum(&mut model, 2, true));
    assert!(quorum(&mut model, 2, false));
    assert!(!quorum(&mut model, 1, false), "1 < 2");
    assert!(!quorum(&mut model, 1, true));
}

#[test]
fn dynamic_weights_set_the_effective_weight_and_count_for_the_quorum() {
    let mut vs = server(vec![real(1, 1)]);
    vs.quorum = Some(5);
    let (mut model, effects) = Model::new(&config(vec![vs]));
    assert!(effects.is_empty() && !model.quorum_up(0));
    let change = VerdictChange {
        weight: Some(7),
        ..verdict(0, 0, 0, true)
    };
    let effects = apply(&mut model, change);
    assert_eq!(events(&effects), vec![Event::QuorumUp(0)]);
    assert_eq!(weights(&model, 0), vec![(ip("10.0.0.1"), 7)]);
    assert_eq!(
        model.status()["virtual_servers"][0]["real_servers"][0]["weight"],
        7
    );
}

#[test]
fn groups_expand_to_one_service_per_address_and_fwmark() {
    let group = VirtualServerGroup {
        name: "G".into(),
        member: vec![
            GroupMember {
                address: Some(ip("192.0.2.10")),
                range_end: Some(12),
                port: Some(443),
                fwmark: None,
            },
            GroupMember {
                fwmark: Some(7),
                ..Default::default()
            },
        ],
    };
    let vs = lb_daemon::config::VirtualServer {
        group: Some("G".into()),
        port: Some(80),
        real_server: vec![real(1, 0)],
        ..Default::default()
    };
    let mut cfg = config(vec![vs]);
    cfg.virtual_server_group = vec![group];
    let (model, _) = Model::new(&cfg);
    let keys: Vec<ServiceKey> = model.services(0).iter().map(|s| s.key).collect();
    assert_eq!(keys.len(), 4);
    assert!(matches!(keys[0], ServiceKey::Addr { port: 443, .. }));
    assert_eq!(
        keys[3],
        ServiceKey::Fwmark {
            mark: 7,
            family: Family::V4
        }
    );
    assert!(model.services(0).iter().all(|s| s.backends.len() == 1));
    assert_eq!(model.desired().services.len(), 4);
}

#[test]
fn fwmark_services_take_the_family_of_their_real_servers() {
    let vs = lb_daemon::config::VirtualServer {
        fwmark: Some(3),
        persistence_timeout: Some(300),
        persistence_granularity: Some("255.255.255.0".into()),
        real_server: vec![lb_daemon::config::RealServer::new(
            ip("2001:db8::1"),
            Some(80),
        )],
        ..Default::default()
    };
    let (model, _) = Model::new(&config(vec![vs]));
    let svc = service(&model, 0);
    assert_eq!(
        svc.key,
        ServiceKey::Fwmark {
            mark: 3,
            family: Family::V6
        }
    );
    assert_eq!(
        svc.persistence.map(|p| (p.timeout, p.netmask)),
        Some((300, 24))
    );
}

#[test]
fn status_reports_state_weight_and_last_change() {
    let (mut model, _) = Model::new(&config(vec![server(vec![real(1, 1)])]));
    let status = model.status();
    let rs = &status["virtual_servers"][0]["real_servers"][0];
    assert_eq!(rs["up"], true);
    assert!(rs["last_change"].is_null());
    apply(&mut model, verdict(0, 0, 0, false));
    let status = model.status();
    let rs = &status["virtual_servers"][0]["real_servers"][0];
    assert_eq!(rs["up"], false);
    assert!(rs["last_change"].as_f64().unwrap() > 1.0e9);
    assert_eq!(status["virtual_servers"][0]["quorum_up"], false);
}

#[test]
fn omega_runs_down_notifies_at_shutdown() {
    let mut reals = vec![real(1, 1), real(2, 1)];
    reals[0].notify_down = Some(command("/bin/echo rs1"));
    let mut vs = server(reals);
    vs.quorum_down = Some(command("/bin/echo quorum"));
    let plain = server(vec![real(3, 0)]);
    let (model, _) = Model::new(&config(vec![vs.clone(), plain.clone()]));
    assert!(model.stopping().is_empty(), "no omega");
    vs.omega = true;
    let (mut model_omega, _) = Model::new(&config(vec![vs, plain]));
    apply(&mut model_omega, verdict(0, 1, 0, false));
    let effects = model_omega.stopping();
    assert_eq!(
        events(&effects),
        vec![Event::RealServerDown(RS0), Event::QuorumDown(0)]
    );
    assert_eq!(effects[1].command, Some(command("/bin/echo quorum")));
}

#[test]
fn a_reload_keeps_verdicts_and_quorum_of_real_servers_still_configured() {
    let mut vs = server(vec![real(1, 1), real(2, 1)]);
    vs.quorum_up = Some(command("/bin/true up"));
    let (mut model, _) = Model::new(&config(vec![vs.clone()]));
    apply(&mut model, verdict(0, 0, 0, false));
    let carried = model.carried();
    // The reloaded configuration adds a third real server.
    vs.real_server.push(real(3, 1));
    let (reloaded, effects) = Model::carrying(&config(vec![vs]), &carried);
    assert_eq!(
        reloaded.is_up(RS0),
        Some(false),
        "still down until a check says up"
    );
    assert_eq!(reloaded.is_up(RS1), Some(true));
    assert_eq!(
        reloaded.is_up(RealServerId { vs: 0, rs: 2 }),
        Some(true),
        "new: starts up"
    );
    assert_eq!(
        weights(&reloaded, 0),
        vec![(ip("10.0.0.2"), 1), (ip("10.0.0.3"), 1)]
    );
    assert!(
        events(&effects).is_empty(),
        "the quorum did not change: {effects:?}"
    );
}
