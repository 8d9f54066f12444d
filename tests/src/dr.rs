//! Direct-routing labs for the fast-path tests: real servers that accept
//! the VIP on their loopback (clients use [`crate::KeptAlive`] and
//! [`crate::Continuous`]).
use anyhow::{Context, Result};

use crate::{Lab, LabSpec, Netns, VrrpConf, VIP};

/// A lab with `directors` directors and three DR real servers (nginx
/// answering with their name, VIP on their loopback, ARP for it suppressed).
pub fn dr_lab(directors: usize) -> Result<Lab> {
    let lab = Lab::new(LabSpec {
        directors,
        real_servers: 3,
        web: true,
    })?;
    for rs in lab.real_servers() {
        rs.accept_vip_on_loopback(VIP)?;
    }
    Ok(lab)
}

/// The configuration of reload number `reload` of the hitless-reload test
/// and bench: VI_1 as MASTER (its priority changing with `reload`) and the `mh`
/// fast-path service on port 80 (TCP_CHECK'd), plus, for `reload % 4` of 1
/// to 3, an unrelated service on port 8080 with one, two or three real
/// servers.
pub fn reload_config(lab: &Lab, reload: u64) -> String {
    let variant = reload % 4;
    let real = |n: usize, port: u16, check: &str| {
        format!(
            "    real_server {} {port} {{\n        weight 1\n{check}    }}\n",
            lab.real_server(n).ipv4()
        )
    };
    let check = "        TCP_CHECK {\n            connect_timeout 1\n            delay_loop 0.5\n        }\n";
    let service = |port: u16, algo: &str, reals: String| {
        format!(
            "virtual_server {VIP} {port} {{\n    lb_algo {algo}\n    lb_kind DR\n    protocol TCP\n    fast_path xdp\n{reals}}}\n"
        )
    };
    let web: String = (1..=3).map(|n| real(n, 80, check)).collect();
    let vrrp = VrrpConf {
        extra: "    garp_master_delay 1\n".into(),
        ..VrrpConf::fast("MASTER", 150 - (reload % 3) as u8)
    };
    let mut text = vrrp.render() + &service(80, "mh", web);
    if variant > 0 {
        let unrelated: String = (1..=variant as usize).map(|n| real(n, 8080, "")).collect();
        text += &service(8080, "rr", unrelated);
    }
    text
}

/// The XDP program id on the director's eth0.
pub fn xdp_prog_id(ns: &Netns) -> Result<String> {
    let link = ns.ip(&["-d", "link", "show", "dev", "eth0"])?;
    let id = link
        .split_whitespace()
        .skip_while(|w| *w != "prog/xdp")
        .nth(2)
        .with_context(|| format!("no XDP program: {link}"))?;
    Ok(id.to_owned())
}
