//! Keyword tables: for each block, the keywords it accepts, how each binds
//! into the model, their aliases, and the keywords keepalived knows that
//! lb-daemon does not implement, in two classes:
//!
//! * refused: ignoring it would change failover, forwarding or security,
//!   so the configuration is rejected with an error naming it and what it
//!   would have done;
//! * ignored: it has no such effect (cosmetic, logging, SNMP/DBus, process
//!   tuning), so it is accepted with one warning.
//!
//! `keepalived-keywords.txt` lists every keyword keepalived's parsers
//! install; `coverage` tests that each of them falls in one class.

use super::parser::Stmt;
use crate::config::diag::closest;

/// Binds one statement into the model value of its block, with binder `B`
/// (the tables stay independent of the binder that walks them).
pub type Apply<T, B> = fn(&mut T, &Stmt, &mut B);

/// A keyword a block supports.
pub struct Keyword<T: 'static, B: 'static> {
    /// The keyword as keepalived spells it (and the model field it sets).
    pub name: &'static str,
    /// Other spellings keepalived accepts for it.
    pub aliases: &'static [&'static str],
    /// What the statement does to the model.
    pub apply: Apply<T, B>,
}

impl<T, B> Keyword<T, B> {
    /// A keyword without aliases.
    pub const fn new(name: &'static str, apply: Apply<T, B>) -> Keyword<T, B> {
        Keyword::aliased(name, &[], apply)
    }

    /// A keyword also accepted as `aliases`.
    pub const fn aliased(
        name: &'static str,
        aliases: &'static [&'static str],
        apply: Apply<T, B>,
    ) -> Keyword<T, B> {
        Keyword {
            name,
            aliases,
            apply,
        }
    }
}

/// A keyword keepalived accepts that lb-daemon does not implement: its
/// name and what it does in keepalived ("failover on process state").
pub type Missing = (&'static str, &'static str);

/// The keyword table of one block.
pub struct Block<T: 'static, B: 'static> {
    /// The block's keyword, for messages.
    pub name: &'static str,
    /// Keywords that are bound into the model.
    pub keywords: &'static [Keyword<T, B>],
    /// Keywords keepalived accepts here whose absence would change
    /// failover, forwarding or security: rejected by name.
    pub refused: &'static [Missing],
    /// Keywords keepalived accepts here without such effect: accepted with
    /// a warning.
    pub ignored: &'static [Missing],
}

/// The result of looking a word up in a [`Block`].
pub enum Found<'t, T: 'static, B: 'static> {
    /// A supported keyword (possibly through an alias).
    Supported(&'t Keyword<T, B>),
    /// A keyword refused by name.
    Refused(&'static Missing),
    /// A keyword accepted with a warning.
    Ignored(&'static Missing),
}

impl<T, B> Found<'_, T, B> {
    /// The keyword's canonical spelling.
    pub fn name(&self) -> &'static str {
        match self {
            Found::Supported(keyword) => keyword.name,
            Found::Refused((name, _)) | Found::Ignored((name, _)) => name,
        }
    }
}

impl<T, B> Block<T, B> {
    /// Looks `word` up, comparing with `same` (exact or case-insensitive).
    fn lookup(&self, word: &str, same: fn(&str, &str) -> bool) -> Option<Found<'_, T, B>> {
        let supported = self.keywords.iter().find(|keyword| {
            same(keyword.name, word) || keyword.aliases.iter().any(|alias| same(alias, word))
        });
        let missing = |list: &'static [Missing]| list.iter().find(|(name, _)| same(name, word));
        match supported {
            Some(keyword) => Some(Found::Supported(keyword)),
            None => missing(self.refused)
                .map(Found::Refused)
                .or_else(|| missing(self.ignored).map(Found::Ignored)),
        }
    }

    /// The keyword spelled exactly `word` (or one of its aliases).
    pub fn find(&self, word: &str) -> Option<Found<'_, T, B>> {
        self.lookup(word, |a, b| a == b)
    }

    /// The keyword that `word` spells with different letter case, together
    /// with the exact spelling that matched.
    pub fn find_miscased(&self, word: &str) -> Option<(Found<'_, T, B>, &'static str)> {
        let found = self.lookup(word, str::eq_ignore_ascii_case)?;
        let spelling = self
            .names()
            .find(|name| name.eq_ignore_ascii_case(word))
            .unwrap_or(found.name());
        Some((found, spelling))
    }

    /// Every spelling this block knows.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        let keywords = self.keywords.iter();
        let aliases = keywords.clone().flat_map(|k| k.aliases.iter().copied());
        keywords.map(|keyword| keyword.name).chain(aliases).chain(
            self.refused
                .iter()
                .chain(self.ignored)
                .map(|(name, _)| *name),
        )
    }

    /// Refused or ignored names that a keyword of the block already binds:
    /// entries that can never be reached.
    #[cfg(test)]
    pub fn shadowed(&self) -> Vec<&'static str> {
        let bound = |name: &str| {
            (self.keywords.iter()).any(|k| k.name == name || k.aliases.contains(&name))
        };
        (self.refused.iter().chain(self.ignored))
            .map(|(name, _)| *name)
            .filter(|name| bound(name))
            .collect()
    }

    /// The known keyword closest to the unknown `word`, if one is close.
    pub fn suggest(&self, word: &str) -> Option<&'static str> {
        closest(word, self.names())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static BLOCK: Block<u32, ()> = Block {
        name: "test",
        keywords: &[
            Keyword::aliased("retry", &["nb_get_retry"], |n, _, _| *n += 1),
            Keyword::new("vrrp_instance", |n, _, _| *n += 2),
        ],
        refused: &[("use_vmac", "virtual MAC")],
        ignored: &[("enable_traps", "SNMP traps")],
    };

    #[test]
    fn exact_alias_refused_and_ignored_lookups() {
        assert_eq!(BLOCK.find("nb_get_retry").unwrap().name(), "retry");
        let found = BLOCK.find("use_vmac").unwrap();
        assert!(matches!(found, Found::Refused(("use_vmac", _))));
        let found = BLOCK.find("enable_traps").unwrap();
        assert!(matches!(found, Found::Ignored(("enable_traps", _))));
        assert!(BLOCK.find("VRRP_instance").is_none());
        assert!(matches!(BLOCK.find("retry"), Some(Found::Supported(_))));
    }

    #[test]
    fn miscased_lookups_name_the_right_spelling() {
        let (found, spelling) = BLOCK.find_miscased("VRRP_instance").unwrap();
        assert_eq!((found.name(), spelling), ("vrrp_instance", "vrrp_instance"));
        let (_, spelling) = BLOCK.find_miscased("NB_GET_RETRY").unwrap();
        assert_eq!(spelling, "nb_get_retry");
    }

    #[test]
    fn suggestions_pick_close_names_only() {
        assert_eq!(BLOCK.suggest("vrrp_instanse"), Some("vrrp_instance"));
        assert_eq!(BLOCK.suggest("retyr"), Some("retry"));
        assert_eq!(BLOCK.suggest("zzzzzzzz"), None);
    }
}
