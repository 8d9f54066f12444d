//! `ha_suspend`: which virtual servers' checks pause.
mod desired_common;

use desired_common::*;
use lb_daemon::state::desired::suspended;
use lb_daemon::state::ownership::{Owned, Ownership};

fn ownership(master: bool) -> Ownership {
    let owned = Owned {
        interface: "eth0".into(),
        master,
        vips: vec![("eth0".into(), "192.0.2.1/24".parse().unwrap())],
    };
    Ownership::from([("VI_1".to_string(), owned)])
}

#[test]
fn suspended_while_backup_of_the_vip() {
    let mut vs = server(vec![real(1, 1)]);
    vs.ha_suspend = true;
    let plain = server(vec![real(2, 1)]);
    let cfg = config(vec![vs, plain]);
    assert_eq!(
        suspended(&cfg, &ownership(false))
            .into_iter()
            .collect::<Vec<_>>(),
        [0]
    );
    assert!(suspended(&cfg, &ownership(true)).is_empty());
    assert!(
        suspended(&cfg, &Ownership::new()).is_empty(),
        "static address"
    );
}

#[test]
fn fwmark_services_are_never_suspended() {
    let vs = lb_daemon::config::VirtualServer {
        fwmark: Some(1),
        ha_suspend: true,
        real_server: vec![real(1, 1)],
        ..Default::default()
    };
    assert!(suspended(&config(vec![vs]), &ownership(false)).is_empty());
}
