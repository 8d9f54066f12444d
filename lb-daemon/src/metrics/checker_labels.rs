//! The checkers' label sets, rendered the first time a checker (or one of
//! its failure reasons) is scraped and kept for as long as the
//! configuration's [`LvsLabels`]. Kept apart from those so that a scrape
//! can write the traffic families (which only read [`LvsLabels`]) on one
//! thread while this cache fills on another.
use super::family::Labels;
use super::lvs_labels::LvsLabels;
use crate::check::Reason;

/// A checker's label sets, per service: the real server's labels with
/// `checker` and `kind`, and with a `reason` for each reason it failed for.
#[derive(Debug, Clone, Default)]
pub struct Sets {
    plain: Vec<Labels>,
    by_reason: [Option<Vec<Labels>>; Reason::ALL.len()],
}

impl Sets {
    /// Per service: `vip`, `addr`, `proto`, `checker`, `kind`.
    pub fn plain(&self) -> &[Labels] {
        &self.plain
    }

    /// Per service: the plain labels and `reason` (none until
    /// [`CheckerLabels::prepare`] was given that reason).
    pub fn by_reason(&self, reason: Reason) -> &[Labels] {
        self.by_reason[reason as usize]
            .as_deref()
            .unwrap_or_default()
    }
}

/// A checker: its virtual server, real server and index.
pub type CheckerId = (usize, usize, usize);

/// Per virtual server, per real server, per checker: its label sets, once
/// scraped.
#[derive(Debug, Default)]
pub struct CheckerLabels {
    sets: Vec<Vec<Vec<Option<Sets>>>>,
}

impl CheckerLabels {
    /// Renders, unless kept from an earlier scrape, the label sets of
    /// checker `id` (of kind `kind`) per service of `labels`, plain and
    /// with each of `reasons`; nothing for a real server `labels` lacks.
    pub fn prepare(
        &mut self,
        labels: &LvsLabels,
        (vs, rs, checker): CheckerId,
        kind: &str,
        reasons: impl IntoIterator<Item = Reason>,
    ) {
        if labels.real(vs, rs).next().is_none() {
            return;
        }
        if self.sets.len() <= vs {
            self.sets.resize_with(vs + 1, Vec::new);
        }
        let reals = &mut self.sets[vs];
        if reals.len() <= rs {
            reals.resize_with(rs + 1, Vec::new);
        }
        let slots = &mut reals[rs];
        if slots.len() <= checker {
            slots.resize(checker + 1, None);
        }
        let sets = slots[checker].get_or_insert_with(Sets::default);
        let index = checker.to_string();
        let render = |reason: Option<Reason>| -> Vec<Labels> {
            let extra = [("checker", index.as_str()), ("kind", kind)];
            let reason = reason.map(|r| ("reason", r.as_str()));
            let with = |l: &Labels| l.with(extra.into_iter().chain(reason));
            labels.real(vs, rs).map(with).collect()
        };
        if sets.plain.is_empty() {
            sets.plain = render(None);
        }
        for reason in reasons {
            sets.by_reason[reason as usize].get_or_insert_with(|| render(Some(reason)));
        }
    }

    /// The label sets of checker `id`, once prepared.
    pub fn sets(&self, (vs, rs, checker): CheckerId) -> Option<&Sets> {
        self.sets.get(vs)?.get(rs)?.get(checker)?.as_ref()
    }
}
