//! The parsers against listings captured from ipvsadm 1.31 on Debian's
//! 6.1 kernel (in the IPVS test guest).
use super::*;

const HEADER: &str = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
";

const LIST: &str = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.0.2.1:80 rr
  -> 192.0.2.2:80                 Route   3      0          0         
  -> 192.0.2.3:8080               Masq    0      2          5         
TCP  192.0.2.5:443 sh (sh-fallback,sh-port) persistent 300 mask 255.255.255.0
  -> 192.0.2.4:443                Tunnel  1      0          0         
SCTP 192.0.2.8:5000 fo
UDP  [2001:db8::1]:53 wrr persistent 60 mask 64 ops
  -> [2001:db8::2]:53             Masq    1      0          0         
FWM  7 mh (mh-fallback,mh-port)
  -> 192.0.2.9:0                  Route   1      0          0         
";

const PERSISTENT_CONN: &str = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn 
  -> RemoteAddress:Port
TCP  192.0.2.1:80 rr
  -> 192.0.2.2:80                 3         4           0          0         
  -> 192.0.2.3:8080               0         0           0          0         
";

const TUN_INFO: &str = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn
TCP  192.0.2.5:443 sh (sh-fallback,sh-port) persistent 300 mask 255.255.255.0
  -> 192.0.2.4:443                Tunnel  gue:6080:-c   1      0          0         
";

const STATS: &str = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  198.51.100.100:80                   4       24       16     1344     1908
  -> 203.0.113.11:80                     2       12        8      672      954
  -> 203.0.113.12:80                     2       12        8      672      954
FWM  7                                   0        0        0        0        0
";

fn key(text: &str) -> ServiceKey {
    let (protocol, addr) = text.split_once(' ').unwrap();
    ServiceKey::parse(protocol, addr).unwrap()
}

#[test]
fn table_has_every_service_setting_and_destination() {
    let table = parse_table(LIST).unwrap();
    let keys: Vec<String> = table.services.iter().map(|s| s.key.to_string()).collect();
    assert_eq!(
        keys,
        [
            "TCP 192.0.2.1:80",
            "TCP 192.0.2.5:443",
            "SCTP 192.0.2.8:5000",
            "UDP [2001:db8::1]:53",
            "FWM 7"
        ]
    );
    assert_eq!(
        table.services[0],
        Service {
            key: key("TCP 192.0.2.1:80"),
            scheduler: "rr".into(),
            sched_flags: vec![],
            persistence: None,
            one_packet: false,
            destinations: vec![
                Destination::new("192.0.2.2:80", Forward::Route, 3),
                Destination::new("192.0.2.3:8080", Forward::Masq, 0),
            ],
        }
    );
    let sh = &table.services[1];
    assert_eq!(sh.sched_flags, ["sh-fallback", "sh-port"]);
    assert_eq!(
        sh.persistence,
        Some(Persistence {
            timeout: 300,
            mask: Some("255.255.255.0".into()),
            engine: None
        })
    );
    assert_eq!(sh.destinations[0].forward, Forward::Tunnel);
    assert!(table.services[2].destinations.is_empty());
    let udp = table.service(&key("UDP [2001:db8::1]:53")).unwrap();
    assert!(udp.one_packet);
    assert_eq!(
        udp.persistence.as_ref().unwrap().mask.as_deref(),
        Some("64")
    );
    let fwm = table.service(&ServiceKey::Fwmark(7)).unwrap();
    assert_eq!((fwm.scheduler.as_str(), fwm.destinations.len()), ("mh", 1));
}

#[test]
fn tun_info_columns_do_not_shift_the_weight() {
    let table = parse_table(TUN_INFO).unwrap();
    assert_eq!(
        table.services[0].destinations,
        [Destination::new("192.0.2.4:443", Forward::Tunnel, 1)]
    );
}

#[test]
fn tunnel_info_per_destination() {
    let tunnels = parse_tunnels(TUN_INFO).unwrap();
    let dest = (
        key("TCP 192.0.2.5:443"),
        Some("192.0.2.4:443".parse().unwrap()),
    );
    assert_eq!(tunnels.get(&dest).map(String::as_str), Some("gue:6080:-c"));
    assert_eq!(tunnels.len(), 1);
    assert!(parse_tunnels(LIST).is_err(), "-Ln has no TunnelInfo column");
}

#[test]
fn counters_come_from_any_listing() {
    let svc = key("TCP 192.0.2.1:80");
    let rs = |a: &str| Some(a.parse().unwrap());
    let list = parse_counters(LIST).unwrap();
    assert_eq!(list.get(&svc, rs("192.0.2.3:8080"), "ActiveConn"), Some(2));
    assert_eq!(list.get(&svc, rs("192.0.2.3:8080"), "InActConn"), Some(5));
    assert_eq!(list.get(&svc, None, "ActiveConn"), None);
    let persistent = parse_counters(PERSISTENT_CONN).unwrap();
    assert_eq!(
        persistent.get(&svc, rs("192.0.2.2:80"), "PersistConn"),
        Some(4)
    );
    let stats = parse_counters(STATS).unwrap();
    let nat = key("TCP 198.51.100.100:80");
    assert_eq!(stats.get(&nat, None, "Conns"), Some(4));
    assert_eq!(
        stats.get(&nat, rs("203.0.113.12:80"), "OutBytes"),
        Some(954)
    );
    assert_eq!(stats.get(&ServiceKey::Fwmark(7), None, "InPkts"), Some(0));
    assert_eq!(stats.rows().len(), 4);
}

#[test]
fn bad_listings_are_errors_naming_the_line() {
    let bad_weight = LIST.replace("Route   3", "Route   x");
    let err = format!("{:#}", parse_table(&bad_weight).unwrap_err());
    assert!(err.contains("line 5") && err.contains("weight"), "{err}");
    let table = |body: &str| parse_table(&format!("{HEADER}{body}"));
    let err = format!("{:#}", table("TCP  192.0.2.1:80 rr bogus\n").unwrap_err());
    assert!(err.contains("line 4") && err.contains("bogus"), "{err}");
    assert!(parse_table(STATS).is_err(), "--stats has no Forward column");
    let rounded = STATS.replace("1908", "1K");
    let err = format!("{:#}", parse_counters(&rounded).unwrap_err());
    assert!(err.contains("--exact"), "{err}");
    assert!(table("  -> 192.0.2.2:80 Route 1 0 0\n").is_err());
    assert!(table("TCP 192.0.2.1:80 rr\n  -> 192.0.2.2:80 Route\n").is_err());
    assert!(table("TCP 192.0.2.1:80 rr\n  -> 192.0.2.2:80 Sideways 1 0 0\n").is_err());
    assert!(table("XYZ 192.0.2.1:80 rr\n").is_err());
    assert!(table("TCP 192.0.2.1 rr\n").is_err());
    assert!(table("TCP 192.0.2.1:80 rr persistent\n").is_err());
    assert!(table("TCP 192.0.2.1:80 rr mask 255.0.0.0\n").is_err());
    assert!(table("TCP 192.0.2.1:80 rr\n").is_ok());
}

#[test]
fn timeouts() {
    assert_eq!(
        parse_timeouts("Timeout (tcp tcpfin udp): 900 120 300\n").unwrap(),
        Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        }
    );
    assert!(parse_timeouts("Timeout (tcp tcpfin udp): 900 120\n").is_err());
    assert!(parse_timeouts("something else").is_err());
}

#[test]
fn service_keys_render_as_ipvsadm_options() {
    assert_eq!(
        key("UDP [2001:db8::1]:53").ipvsadm_args(),
        ["-u", "[2001:db8::1]:53"]
    );
    assert_eq!(ServiceKey::Fwmark(7).ipvsadm_args(), ["-f", "7"]);
}
