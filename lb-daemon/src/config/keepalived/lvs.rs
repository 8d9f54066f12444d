//! Keyword tables of the load-balancing blocks and their checkers.

use super::args::FromWord;
use super::bind::{flag, set, Binder, Block, Keyword};
use super::lvs_args::Forwarding;
use super::missing;
use super::parser::Stmt;
use crate::config::model::{
    Checker, CheckerKind, Config, RealServer, StatusRange, Url, VirtualServer, VirtualServerGroup,
};

/// `virtual_server_group NAME { ADDR PORT | ADDR-END PORT | fwmark N … }`.
pub fn bind_group(config: &mut Config, statement: &Stmt, binder: &mut Binder) {
    let segment = format!("virtual_server_group.{}", config.virtual_server_group.len());
    binder.record(&segment, &statement.keyword.location);
    let name = binder.name(statement);
    let member = binder.items(statement, &format!("{segment}.member"), 0);
    config
        .virtual_server_group
        .push(VirtualServerGroup { name, member });
}

/// `virtual_server ADDR PORT | fwmark N | group NAME { … }`.
pub fn bind_virtual_server(config: &mut Config, statement: &Stmt, binder: &mut Binder) {
    let Some(server) = binder.header(statement) else {
        return;
    };
    let segment = format!("virtual_server.{}", config.virtual_server.len());
    // A header that read well has two words: `fwmark N`, `group NAME` or
    // `ADDR PORT`.
    let [first, second] = &statement.args[..] else {
        return;
    };
    let fields = match first.text.as_str() {
        "fwmark" | "group" => vec![(first.text.as_str(), second)],
        _ => vec![("address", first), ("port", second)],
    };
    for (field, word) in fields {
        binder.record(&format!("{segment}.{field}"), &word.location);
    }
    let list = &mut config.virtual_server;
    binder.push_item(statement, "virtual_server", list, &VIRTUAL_SERVER, server);
}

pub(super) static VIRTUAL_SERVER: Block<VirtualServer> = Block {
    name: "virtual_server",
    keywords: &[
        set!(delay_loop),
        set!(lb_algo, "lvs_sched"),
        Keyword::aliased("lb_kind", &["lvs_method"], |v, s, b| {
            if let Some(Forwarding(kind, tunnel)) = b.value(s) {
                (v.lb_kind, v.tunnel) = (Some(kind), tunnel);
            }
        }),
        set!(persistence_timeout),
        set!(persistence_granularity),
        set!(protocol),
        flag!(ha_suspend),
        set!(virtualhost),
        flag!(alpha),
        flag!(omega),
        set!(weight),
        set!(quorum),
        set!(hysteresis),
        set!(quorum_up),
        set!(quorum_down),
        set!(sorry_server),
        flag!(sorry_server_inhibit),
        set!(sorry_server_lvs_method),
        flag!(inhibit_on_failure),
        set!(retry),
        set!(delay_before_retry),
        set!(warmup),
        set!(connect_timeout),
        flag!(ops),
        flag!(sh_port, "sh-port"),
        flag!(sh_fallback, "sh-fallback"),
        flag!(mh_port, "mh-port"),
        flag!(mh_fallback, "mh-fallback"),
        flag!(flag_1, "flag-1"),
        flag!(flag_2, "flag-2"),
        flag!(flag_3, "flag-3"),
        set!(persistence_engine),
        set!(fast_path),
        Keyword::new("bgp_announce", super::bgp::bind_announce),
        Keyword::new("real_server", |v, s, b| {
            if let Some(server) = b.header(s) {
                b.push_item(s, "real_server", &mut v.real_server, &REAL_SERVER, server)
            }
        }),
    ],
    refused: missing::VIRTUAL_SERVER_REFUSED,
    ignored: missing::VIRTUAL_SERVER_IGNORED,
};

fn bind_checker(server: &mut RealServer, statement: &Stmt, binder: &mut Binder) {
    let Ok(kind) = CheckerKind::from_word(binder.keyword()) else {
        return;
    };
    let checker = Checker {
        kind,
        ..Checker::default()
    };
    let hosts: Vec<&Stmt> = match (&kind, &statement.body) {
        (CheckerKind::SmtpCheck, Some(body)) => {
            body.iter().filter(|s| s.keyword.text == "host").collect()
        }
        _ => Vec::new(),
    };
    if hosts.is_empty() {
        return binder.push_item(statement, "checker", &mut server.checker, &CHECKER, checker);
    }
    let main = Stmt {
        body: statement.body.as_ref().map(|body| {
            let rest = body.iter().filter(|s| s.keyword.text != "host");
            rest.cloned().collect()
        }),
        ..statement.clone()
    };
    let at = server.checker.len();
    binder.push_item(&main, "checker", &mut server.checker, &CHECKER, checker);
    smtp_hosts(server, at, &hosts, binder);
}

/// keepalived's deprecated `host { … }` blocks of an SMTP_CHECK (the one
/// at index `at`): each is one more SMTP_CHECK, the block's settings (its
/// connection above all) over the checker's. Without connection settings
/// of its own the checker itself becomes the first host's, as in
/// keepalived, so that every host listed is checked and nothing else.
fn smtp_hosts(server: &mut RealServer, at: usize, hosts: &[&Stmt], binder: &mut Binder) {
    let main = server.checker[at].clone();
    let connected = main.connect_ip.is_some()
        || main.connect_port.is_some()
        || main.bindto.is_some()
        || main.bind_port.is_some()
        || main.bind_if.is_some();
    let mut slot = (!connected).then_some(at);
    for host in hosts {
        let index = slot.take().unwrap_or(server.checker.len());
        let mut checker = main.clone();
        binder.body(host, &format!("checker.{index}"), &CHECKER, &mut checker);
        match server.checker.get_mut(index) {
            Some(existing) => *existing = checker,
            None => server.checker.push(checker),
        }
    }
}

pub(super) static REAL_SERVER: Block<RealServer> = Block {
    name: "real_server",
    keywords: &[
        set!(weight),
        flag!(inhibit_on_failure),
        set!(alpha),
        set!(virtualhost),
        set!(notify_up),
        set!(notify_down),
        set!(uthreshold),
        set!(lthreshold),
        Keyword::aliased("lvs_method", &["lb_kind"], |r, s, b| {
            if let Some(Forwarding(kind, tunnel)) = b.value(s) {
                (r.lvs_method, r.tunnel) = (Some(kind), tunnel);
            }
        }),
        set!(retry, "nb_get_retry"),
        set!(delay_before_retry),
        set!(warmup),
        set!(delay_loop),
        set!(connect_timeout),
        Keyword::new("TCP_CHECK", bind_checker),
        Keyword::new("HTTP_GET", bind_checker),
        Keyword::new("SSL_GET", bind_checker),
        Keyword::new("MISC_CHECK", bind_checker),
        Keyword::new("SMTP_CHECK", bind_checker),
        Keyword::new("DNS_CHECK", bind_checker),
        Keyword::new("UDP_CHECK", bind_checker),
        Keyword::new("PING_CHECK", bind_checker),
        Keyword::new("FILE_CHECK", bind_checker),
    ],
    refused: missing::REAL_SERVER_REFUSED,
    ignored: missing::REAL_SERVER_IGNORED,
};

pub(super) static CHECKER: Block<Checker> = Block {
    name: "a checker",
    keywords: &[
        set!(connect_ip),
        set!(connect_port),
        set!(bindto),
        set!(bind_port),
        set!(bind_if),
        set!(connect_timeout),
        set!(retry, "nb_get_retry"),
        set!(delay_before_retry),
        set!(warmup),
        set!(delay_loop),
        set!(alpha),
        Keyword::new("url", |c, s, b| {
            b.push_item(s, "url", &mut c.url, &URL, Url::default())
        }),
        set!(http_protocol),
        set!(virtualhost),
        flag!(enable_sni),
        Keyword::new("sni_name", |c, s, b| {
            c.enable_sni = true;
            c.sni_name = b
                .value::<Option<String>>(s)
                .flatten()
                .filter(|n| !n.is_empty())
        }),
        set!(misc_path),
        set!(misc_timeout),
        flag!(misc_dynamic),
        set!(user),
        set!(helo_name),
        Keyword::new("type", |c, s, b| {
            b.record("dns_type", &s.keyword.location);
            c.dns_type = b.value(s)
        }),
        set!(name),
        set!(payload),
        Keyword::new("require_reply", |c, s, b| {
            c.require_reply = b.value::<Option<String>>(s).flatten()
        }),
        set!(min_reply_length),
        set!(max_reply_length),
        set!(track_file),
        set!(weight),
    ],
    refused: missing::CHECKER_REFUSED,
    ignored: missing::CHECKER_IGNORED,
};

pub(super) static URL: Block<Url> = Block {
    name: "url",
    keywords: &[
        set!(path),
        set!(digest),
        Keyword::new("status_code", |u, s, b| {
            let codes: Option<Vec<StatusRange>> = b.value(s);
            u.status_code.extend(codes.into_iter().flatten())
        }),
        set!(regex),
        flag!(regex_no_match),
        set!(virtualhost),
    ],
    refused: missing::URL_REFUSED,
    ignored: missing::URL_IGNORED,
};
