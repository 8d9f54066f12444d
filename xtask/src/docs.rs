//! Man pages and shell completions generated from lb-daemon's clap
//! definition (`Cli::command()`), so that they always describe the flags the
//! binary has: `lb-daemon.8` (with the hand-written sections of
//! `lb-daemon/man/lb-daemon.8.extra`), one `lb-daemon-SUBCOMMAND.8` per
//! subcommand, and the bash, zsh and fish completions.
use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use lb_daemon::cli::Cli;

use crate::cmd;

/// The man pages' section: lb-daemon is a system daemon, as keepalived(8).
const SECTION: &str = "8";

/// Writes `man8/*.8` and `completions/{lb-daemon.bash,_lb-daemon,lb-daemon.fish}`
/// under `dir` (emptied first).
pub fn write(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    let man8 = dir.join("man8");
    let completions = dir.join("completions");
    for d in [&man8, &completions] {
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut command = Cli::command();
    command.build();
    write_file(&man8.join("lb-daemon.8"), &main_page(&command)?)?;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("lb-daemon-{}", sub.get_name());
        let mut page = Vec::new();
        Man::new(sub.clone().name(&name))
            .section(SECTION)
            .render(&mut page)?;
        write_file(&man8.join(format!("{name}.{SECTION}")), &page)?;
    }
    for (shell, file) in [
        (Shell::Bash, "lb-daemon.bash"),
        (Shell::Zsh, "_lb-daemon"),
        (Shell::Fish, "lb-daemon.fish"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command, "lb-daemon", &mut script);
        write_file(&completions.join(file), &script)?;
    }
    Ok(())
}

/// `lb-daemon.8`: clap's sections, then the hand-written ones (signals,
/// systemd, files, exit status, see also), then the version.
fn main_page(command: &clap::Command) -> Result<Vec<u8>> {
    let man = Man::new(command.clone()).section(SECTION);
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    let extra = extra_sections();
    page.extend(fs::read(&extra).with_context(|| format!("reading {}", extra.display()))?);
    man.render_version_section(&mut page)?;
    Ok(page)
}

/// The hand-written sections of `lb-daemon.8`.
fn extra_sections() -> PathBuf {
    cmd::workspace_root().join("lb-daemon/man/lb-daemon.8.extra")
}

fn write_file(path: &Path, content: &[u8]) -> Result<()> {
    fs::write(path, content).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every long option of the clap definition that `--help` shows (the
    /// hidden ones are keepalived options accepted only for compatibility),
    /// as the pages and the completions must name it.
    fn long_options(command: &clap::Command) -> Vec<String> {
        command
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long())
            .map(|l| format!("--{l}"))
            .collect()
    }

    #[test]
    fn pages_and_completions_follow_the_clap_definition() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path()).unwrap();
        let read = |p: &str| fs::read_to_string(dir.path().join(p)).unwrap();
        let page = read("man8/lb-daemon.8");
        let command = Cli::command();
        let options = long_options(&command);
        assert!(options.contains(&"--use-file".to_owned()), "{options:?}");
        for option in &options {
            assert!(
                page.contains(&option.replace('-', "\\-")),
                "{option} not in lb-daemon.8"
            );
            for file in ["lb-daemon.bash", "_lb-daemon", "lb-daemon.fish"] {
                let script = read(&format!("completions/{file}"));
                let name = option.trim_start_matches('-');
                assert!(script.contains(name), "{option} not in {file}");
            }
        }
        assert!(
            page.contains(".SH SYSTEMD") && page.contains(".SH EXIT STATUS"),
            "{page}"
        );
        for sub in command.get_subcommands() {
            let sub_page = read(&format!("man8/lb-daemon-{}.8", sub.get_name()));
            for option in long_options(sub) {
                assert!(sub_page.contains(&option.replace('-', "\\-")), "{option}");
            }
        }
    }
}
