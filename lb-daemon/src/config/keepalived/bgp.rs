//! Keyword tables of the BGP blocks (our extension): `bgp_speaker` at the
//! top level and `bgp_announce` inside a `virtual_server`.
use std::{net::IpAddr, path::PathBuf};

use ipnet::IpNet;

use super::args::{ArgError, FromArgs, FromWord};
use super::bind::{flag, list, set, Binder, Block, Keyword};
use super::parser::{Stmt, Word};
use crate::config::model::{
    Bfd, BgpAnnounce, BgpSpeaker, Community, Config, Neighbor, VirtualServer,
};

/// `bgp_speaker { … }` (the block may be given once; a second one adds to
/// the first).
pub fn bind_speaker(config: &mut Config, statement: &Stmt, binder: &mut Binder) {
    let mut speaker = config.bgp_speaker.take().unwrap_or_default();
    binder.body(statement, "bgp_speaker", &SPEAKER, &mut speaker);
    config.bgp_speaker = Some(speaker);
}

/// `bgp_announce { … }` of a virtual server.
pub fn bind_announce(server: &mut VirtualServer, statement: &Stmt, binder: &mut Binder) {
    let mut announce = server.bgp_announce.take().unwrap_or_default();
    binder.body(statement, "bgp_announce", &ANNOUNCE, &mut announce);
    server.bgp_announce = Some(announce);
}

static SPEAKER: Block<BgpSpeaker> = Block {
    name: "bgp_speaker",
    keywords: &[
        set!(router_id),
        set!(local_as),
        set!(hold_time),
        set!(interface),
        Keyword::new("bird_binary", |t, s, b| {
            t.bird_binary = b.value::<String>(s).map(PathBuf::from)
        }),
        Keyword::new("bird_include", |t, s, b| {
            t.bird_include = b.value::<String>(s).map(PathBuf::from)
        }),
        Keyword::new("bird_socket", |t, s, b| {
            t.bird_socket = b.value::<String>(s).map(PathBuf::from)
        }),
        Keyword::new("bfd", |t, s, b| {
            let mut bfd = t.bfd.take().unwrap_or_default();
            b.body(s, "bfd", &BFD, &mut bfd);
            t.bfd = Some(bfd);
        }),
        Keyword::new("neighbor", |t, s, b| {
            if let Some(address) = b.header::<IpAddr>(s) {
                let item = Neighbor::at(address);
                b.push_item(s, "neighbor", &mut t.neighbor, &NEIGHBOR, item);
            }
        }),
    ],
    refused: &[],
    ignored: &[],
};

static BFD: Block<Bfd> = Block {
    name: "bfd",
    keywords: &[set!(interval), set!(multiplier)],
    refused: &[],
    ignored: &[],
};

static NEIGHBOR: Block<Neighbor> = Block {
    name: "neighbor",
    keywords: &[set!(remote_as), set!(local_address), set!(port)],
    refused: &[],
    ignored: &[],
};

static ANNOUNCE: Block<BgpAnnounce> = Block {
    name: "bgp_announce",
    keywords: &[
        set!(prefix),
        set!(min_healthy),
        Keyword::new("community", |t, s, b| {
            if let Some(Communities(mut more)) = b.value(s) {
                t.community.append(&mut more);
            }
        }),
        set!(drain),
        set!(announce_delay),
        flag!(only_while_master),
        list!(track_script),
        list!(track_interface),
        list!(track_file),
    ],
    refused: &[],
    ignored: &[],
};

/// One or more communities on one line.
struct Communities(Vec<Community>);

impl FromArgs for Communities {
    fn from_args(args: &[Word]) -> Result<Communities, ArgError> {
        if args.is_empty() {
            return Err(ArgError::at(0, "a community ASN:VALUE is missing"));
        }
        let each = args.iter().enumerate().map(|(i, word)| {
            word.text
                .parse()
                .map_err(|message: String| ArgError::at(i, message))
        });
        each.collect::<Result<_, _>>().map(Communities)
    }
}

impl FromWord for IpNet {
    fn from_word(word: &str) -> Result<IpNet, String> {
        word.parse()
            .or_else(|_| word.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("`{word}` is not a prefix (ADDRESS/LENGTH)"))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse_keepalived_str;

    const CONF: &str = "bgp_speaker {
    router_id 198.51.100.11
    local_as 64513
    hold_time 3
    interface eth0
    bfd {
        interval 100
        multiplier 3
    }
    neighbor 198.51.100.1 {
        remote_as 64512
        local_address 198.51.100.11
    }
}
virtual_server 192.0.2.10 80 {
    lb_algo mh
    lb_kind DR
    bgp_announce {
        min_healthy 2
        community 64513:100 64513:200
        drain 1.5
    }
    real_server 198.51.100.21 80 {
    }
}
";

    #[test]
    fn speaker_and_announce_bind_from_keepalived_conf() {
        let config = parse_keepalived_str(CONF, Path::new("k.conf"))
            .unwrap()
            .config;
        let speaker = config.bgp_speaker.unwrap();
        assert_eq!(speaker.local_as, Some(64513));
        assert_eq!(speaker.router_id, Some("198.51.100.11".parse().unwrap()));
        assert_eq!(speaker.bfd.unwrap().interval, Some(100));
        assert_eq!(speaker.neighbor.len(), 1);
        assert_eq!(speaker.neighbor[0].remote_as, Some(64512));
        let announce = config.virtual_server[0].bgp_announce.clone().unwrap();
        assert_eq!(announce.min_healthy, Some(2));
        assert_eq!(announce.community.len(), 2);
        assert_eq!(announce.drain, Some(1.5));
    }

    #[test]
    fn the_toml_form_holds_the_same_model() {
        use crate::config::{parse_toml_str, to_toml};
        let config = parse_keepalived_str(CONF, Path::new("k.conf"))
            .unwrap()
            .config;
        let toml = to_toml(&config);
        assert!(toml.contains("[bgp_speaker]"), "{toml}");
        assert!(
            toml.contains("community = [\"64513:100\", \"64513:200\"]"),
            "{toml}"
        );
        let back = parse_toml_str(&toml, Path::new("k.toml")).unwrap().config;
        assert_eq!(back, config);
    }

    #[test]
    fn bad_words_name_the_line() {
        let conf = CONF.replace("64513:200", "64513:x");
        let err = parse_keepalived_str(&conf, Path::new("k.conf")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("k.conf:20:29"), "{text}");
        assert!(text.contains("not a BGP community"), "{text}");
    }
}
