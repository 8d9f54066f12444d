//! The standard lab on the real kernel (needs root): connectivity, web
//! servers, isolation between concurrent labs, and complete teardown.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::Duration;

use lb_tests::names::{list_namespaces, process_alive};
use lb_tests::{http_get, in_netns, Host, Lab, LabSpec};

const TIMEOUT: Duration = Duration::from_secs(3);

/// What must be gone once a lab has been dropped.
struct Leftovers {
    namespaces: Vec<String>,
    pids: Vec<u32>,
}

impl Leftovers {
    fn of(lab: &Lab) -> Leftovers {
        Leftovers {
            namespaces: lab.namespaces(),
            pids: lab
                .hosts()
                .iter()
                .filter_map(|h| h.web())
                .map(|w| w.pid())
                .collect(),
        }
    }

    fn assert_gone(&self) {
        let listed = list_namespaces();
        for ns in &self.namespaces {
            assert!(!listed.contains(ns), "namespace {ns} left behind");
        }
        for pid in &self.pids {
            assert!(!process_alive(*pid), "nginx {pid} still running");
        }
    }
}

/// Whether `to` answers a TCP connection attempt on a closed port from
/// `from` with a reset: proof that both can reach each other.
fn reaches(from: &Host, to: IpAddr) -> bool {
    in_netns(from.ns(), || {
        TcpStream::connect_timeout(&SocketAddr::new(to, 9), TIMEOUT)
    })
    .unwrap()
    .err()
    .is_some_and(|e| e.kind() == ErrorKind::ConnectionRefused)
}

fn get(host: &Host, url: &str) -> (u16, String) {
    http_get(host.ns(), url, TIMEOUT).unwrap_or_else(|e| panic!("GET {url}: {e:#}"))
}

#[test]
fn full_lab_serves_connects_and_cleans_up() {
    let lab = Lab::full().unwrap();
    let client = lab.client();
    for rs in lab.real_servers() {
        let name = rs.role();
        assert_eq!(
            get(client, &format!("http://{}/", rs.ipv4())),
            (200, format!("{name}\n"))
        );
        assert_eq!(
            get(client, &format!("http://[{}]/", rs.ipv6())),
            (200, format!("{name}\n"))
        );
        assert_eq!(get(client, &format!("http://{}/health", rs.ipv4())).0, 200);
    }
    assert_eq!(get(client, "http://192.0.2.11/"), (200, "rs1\n".into()));
    assert_eq!(get(client, "http://[2001:db8::11]/"), (200, "rs1\n".into()));

    let (dir1, dir2) = (lab.director(1), lab.director(2));
    assert!(reaches(dir1, dir2.ipv4().into()));
    assert!(reaches(dir2, dir1.ipv6().into()));
    assert!(reaches(client, dir1.ipv4().into()));

    for host in lab.hosts() {
        let link = host
            .ns()
            .ip(&["-o", "link", "show", "dev", "eth0"])
            .unwrap();
        assert!(
            link.starts_with(&format!("{}: eth0", host.ifindex())),
            "{link}"
        );
        assert!(link.contains(&host.mac_string()), "{link}");
        let features = host.ns().run(&["ethtool", "-k", "eth0"]).unwrap();
        assert!(features.contains("tx-checksumming: off"), "{features}");
        let port = lab
            .switch()
            .ip(&["-o", "link", "show", "dev", host.bridge_port()])
            .unwrap();
        assert!(
            port.starts_with(&format!("{}: ", host.bridge_port_ifindex())),
            "{port}"
        );
        assert!(port.contains("master br0"), "{port}");
    }
    let root_links = lb_tests::netns::run_cmd("ip", &["-o", "link", "show"]).unwrap();
    assert!(
        !root_links.contains(lab.client().bridge_port()),
        "lab link in root ns"
    );

    let leftovers = Leftovers::of(&lab);
    assert_eq!(leftovers.namespaces.len(), 7);
    assert_eq!(leftovers.pids.len(), 3);
    drop(lab);
    leftovers.assert_gone();
}

#[test]
fn panic_inside_lab_leaves_nothing() {
    let recorded = Mutex::new(None);
    let result = std::panic::catch_unwind(|| {
        let lab = Lab::new(LabSpec::web(1, 1)).unwrap();
        *recorded.lock().unwrap() = Some(Leftovers::of(&lab));
        panic!("test failure inside a lab");
    });
    assert!(result.is_err());
    let leftovers = recorded.into_inner().unwrap().expect("lab was built");
    assert_eq!(leftovers.pids.len(), 1);
    leftovers.assert_gone();
}

#[test]
fn concurrent_labs_do_not_interfere() {
    let barrier = Barrier::new(2);
    let leftovers: Vec<Leftovers> = thread::scope(|s| {
        let workers: Vec<_> = [true, false]
            .into_iter()
            .map(|healthy| {
                let barrier = &barrier;
                s.spawn(move || {
                    let spec = LabSpec {
                        directors: 1,
                        real_servers: 2,
                        web: true,
                    };
                    let lab = Lab::new(spec).unwrap();
                    lab.real_server(1)
                        .web()
                        .unwrap()
                        .set_healthy(healthy)
                        .unwrap();
                    barrier.wait(); // both labs exist, with the same addresses
                    let status = get(lab.client(), "http://192.0.2.11/health").0;
                    assert_eq!(status, if healthy { 200 } else { 404 });
                    assert_eq!(get(lab.client(), "http://192.0.2.12/health").0, 200);
                    assert_eq!(get(lab.client(), "http://[2001:db8::12]/").1, "rs2\n");
                    barrier.wait(); // neither lab is torn down before both checked
                    Leftovers::of(&lab)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert!(leftovers[0]
        .namespaces
        .iter()
        .all(|n| !leftovers[1].namespaces.contains(n)));
    leftovers.iter().for_each(Leftovers::assert_gone);
}

#[test]
fn subset_without_web_servers() {
    let lab = Lab::new(LabSpec {
        directors: 0,
        real_servers: 1,
        web: false,
    })
    .unwrap();
    assert_eq!(lab.hosts().len(), 2);
    assert!(lab.host("dir1").is_none());
    assert!(lab.real_server(1).web().is_none());
    assert!(reaches(lab.client(), lab.real_server(1).ipv6().into()));
}
