//! Reading `lvs_sync_daemon INTERFACE [[inst] VRRP_INSTANCE] [id SYNC_ID]
//! [maxlen LEN] [port PORT] [ttl TTL] [group ADDRESS]` as keepalived's
//! `lvs_syncd_handler` does: named options anywhere after the interface,
//! the instance also bare right after it. Ranges and the group's being
//! multicast are checked with the model (both front ends).

use super::args::{options, put, ArgError, FromArgs, FromWord};
use super::parser::Word;
use crate::config::model::LvsSyncDaemon;

impl FromArgs for LvsSyncDaemon {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let interface = args
            .first()
            .ok_or_else(|| ArgError::at(0, "the interface is missing"))?;
        let mut settings = LvsSyncDaemon {
            interface: interface.text.clone(),
            ..LvsSyncDaemon::default()
        };
        let mut start = 1;
        // keepalived's older form: `lvs_sync_daemon IF INSTANCE [SYNC_ID]`.
        if let Some(word) = args.get(1).filter(|w| !is_option(&w.text)) {
            settings.instance = Some(word.text.clone());
            start = 2;
            if let Some(id) = args.get(2).filter(|w| !is_option(&w.text)) {
                let message = format!("write `id {}` for the sync id", id.text);
                return Err(ArgError::at(2, message));
            }
        }
        options(args, start, |name, value| match name {
            "inst" if settings.instance.is_some() => {
                Err("the VRRP instance is already given".to_owned())
            }
            "inst" => {
                settings.instance = Some(String::from_word(&value.text)?);
                Ok(true)
            }
            "id" => put(&mut settings.id, value),
            "maxlen" => put(&mut settings.maxlen, value),
            "port" => put(&mut settings.port, value),
            "ttl" => put(&mut settings.ttl, value),
            "group" => put(&mut settings.group, value),
            _ => Ok(false),
        })?;
        Ok(settings)
    }
}

/// Whether `word` names an option rather than being a bare instance name.
fn is_option(word: &str) -> bool {
    matches!(word, "inst" | "id" | "maxlen" | "port" | "ttl" | "group")
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::config::keepalived::args::tests;

    fn read(text: &str) -> Result<LvsSyncDaemon, ArgError> {
        tests::read(text)
    }

    #[test]
    fn every_option_in_any_order() {
        let full = read("eth1 VI_1 id 5 maxlen 1400 port 8850 ttl 2 group 224.0.0.82").unwrap();
        assert_eq!(
            full,
            LvsSyncDaemon {
                interface: "eth1".into(),
                instance: Some("VI_1".into()),
                id: Some(5),
                maxlen: Some(1400),
                port: Some(8850),
                ttl: Some(2),
                group: Some("224.0.0.82".parse::<IpAddr>().unwrap()),
            }
        );
        let named = read("eth1 group ff02::81 inst VI_1 id 0").unwrap();
        assert_eq!(named.instance.as_deref(), Some("VI_1"));
        assert_eq!(named.group, Some("ff02::81".parse().unwrap()));
        assert_eq!(read("eth1").unwrap().instance, None);
    }

    #[test]
    fn mistakes_point_at_their_word() {
        let at = |text| read(text).unwrap_err();
        assert_eq!(at("").index, 0);
        assert_eq!(at("eth1 VI_1 5").index, 2);
        assert!(at("eth1 VI_1 5").message.contains("id 5"));
        assert_eq!(at("eth1 VI_1 id").index, 3);
        assert_eq!(at("eth1 VI_1 ttl x").index, 3);
        assert_eq!(at("eth1 VI_1 bogus 3").index, 2);
        assert_eq!(at("eth1 VI_1 inst VI_2").index, 3);
        assert_eq!(at("eth1 VI_1 group 224.0.0.300").index, 3);
    }
}
