//! The top level of keepalived.conf: which blocks it holds, and the entry
//! point binding a statement tree into the model. It sits above the block
//! tables ([`vrrp`], [`lvs`], [`bgp`]), which sit above the [`Binder`].
use super::bind::{list, set, Binder, Block, Keyword};
use super::parser::Stmt;
use super::{bgp, lvs, missing, vrrp};
use crate::config::diag::{Diagnostic, FieldLocations};
use crate::config::model::{
    Config, SslClient, SyncGroup, TrackFile, TrackProcess, VrrpInstance, VrrpScript,
};

/// `Keyword` for a named block appended to the list field of the same name.
macro_rules! named {
    ($field:ident, $ty:ty, $block:expr $(, $alias:literal)*) => {
        Keyword::aliased(stringify!($field), &[$($alias),*], |c, s, b| {
            let mut item = <$ty>::default();
            item.name = b.name(s);
            b.push_item(s, stringify!($field), &mut c.$field, &$block, item)
        })
    };
}

/// The statements allowed at the top level of keepalived.conf.
pub(super) static TOP: Block<Config> = Block {
    name: "the top level",
    keywords: &[
        Keyword::new("global_defs", |c, s, b| {
            b.body(s, "global_defs", &vrrp::GLOBAL, &mut c.global_defs)
        }),
        named!(vrrp_script, VrrpScript, vrrp::SCRIPT),
        named!(track_file, TrackFile, vrrp::TRACK_FILE, "vrrp_track_file"),
        named!(vrrp_track_process, TrackProcess, vrrp::TRACK_PROCESS),
        named!(vrrp_sync_group, SyncGroup, vrrp::SYNC_GROUP),
        named!(vrrp_instance, VrrpInstance, vrrp::INSTANCE),
        Keyword::new("virtual_server_group", lvs::bind_group),
        Keyword::new("virtual_server", lvs::bind_virtual_server),
        Keyword::new("bgp_speaker", bgp::bind_speaker),
        list!(static_ipaddress),
        list!(static_routes),
        list!(static_rules),
        set!(net_namespace),
        set!(instance),
        Keyword::new("SSL", |c, s, b| {
            let ssl = c.ssl.get_or_insert_with(Default::default);
            b.body(s, "SSL", &SSL, ssl)
        }),
    ],
    refused: missing::TOP_REFUSED,
    ignored: missing::TOP_IGNORED,
};

/// `SSL { … }`. keepalived's `ca` is loaded but never used (its SSL_GET
/// verifies no server); `password` (encrypted keys) is refused.
pub(super) static SSL: Block<SslClient> = Block {
    name: "SSL",
    keywords: &[set!(certificate), set!(key)],
    refused: missing::SSL_REFUSED,
    ignored: missing::SSL_IGNORED,
};

/// Binds `statements` into a [`Config`], returning where each field was
/// written and what went wrong.
pub fn bind(statements: &[Stmt]) -> (Config, FieldLocations, Vec<Diagnostic>) {
    let mut binder = Binder::new();
    let mut config = Config::default();
    binder.bind_all(&TOP, &mut config, statements);
    let (locations, diagnostics) = binder.finish();
    (config, locations, diagnostics)
}
