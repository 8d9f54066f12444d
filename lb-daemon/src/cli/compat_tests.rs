use std::path::Path;

use super::*;
use crate::cli::Command;

fn parse(line: &str) -> Cli {
    let args = std::iter::once("lb-daemon").chain(line.split_whitespace());
    parse_from(args).unwrap_or_else(|e| panic!("`{line}`: {e}"))
}

const VRRP_ONLY: Subsystems = Subsystems {
    vrrp: true,
    checkers: false,
};
const CHECKERS_ONLY: Subsystems = Subsystems {
    vrrp: false,
    checkers: true,
};

/// What a parsed command line must satisfy.
type Check = fn(&RunArgs) -> bool;

/// Command lines from /etc/default/keepalived (DAEMON_ARGS) and keepalived's
/// documentation: every one parses, with keepalived's meaning.
#[test]
fn keepalived_command_lines() {
    let table: &[(&str, Check)] = &[
        ("-D -S 7 -P", |a| {
            a.log_detail == 1 && a.log_facility.as_deref() == Some("7") && a.subsystems == VRRP_ONLY
        }),
        ("--vrrp --log-detail", |a| {
            a.subsystems == VRRP_ONLY && a.log_detail == 1
        }),
        ("-x -G", |a| a.snmp && a.no_syslog),
        ("-D -D", |a| a.log_detail == 2),
        ("-DlnP", |a| {
            a.log_detail == 1 && a.log_console && a.dont_fork && a.subsystems == VRRP_ONLY
        }),
        ("-C --log-facility=local3", |a| {
            a.subsystems == CHECKERS_ONLY && a.log_facility.as_deref() == Some("local3")
        }),
        ("-S7", |a| a.log_facility.as_deref() == Some("7")),
        ("--dont-fork --log-console -f /etc/k.conf", |a| {
            a.dont_fork && a.log_console && a.config == Path::new("/etc/k.conf")
        }),
        ("--use-file=/etc/k.conf", |a| {
            a.config == Path::new("/etc/k.conf")
        }),
        ("-p /run/k.pid -r /run/v.pid -c /run/c.pid", |a| {
            a.pid_files()
                == [
                    Path::new("/run/k.pid"),
                    Path::new("/run/v.pid"),
                    Path::new("/run/c.pid"),
                ]
        }),
        ("-P -p /run/k.pid -r /run/v.pid -c /run/c.pid", |a| {
            a.pid_files() == [Path::new("/run/k.pid"), Path::new("/run/v.pid")]
        }),
        (
            "--pid=/run/k.pid --vrrp_pid=/run/v.pid --checkers_pid=/run/c.pid -b /run/b.pid",
            |a| a.pid_files().len() == 3 && a.bfd_pid_file.is_some(),
        ),
        ("-i node1 --namespace blue", |a| {
            a.config_id.as_deref() == Some("node1")
                && a.namespace.as_deref() == Some("blue")
                && a.runtime_dir == Path::new("/run/lb-daemon/blue")
        }),
        ("-s blue --runtime-dir /run/x", |a| {
            a.runtime_dir == Path::new("/run/x")
        }),
        ("-V", |a| a.dont_release_vrrp),
        ("-I -X -R -B -d -a -m -e", |a| {
            a.dont_release_ipvs
                && a.release_vips
                && a.dont_respawn
                && a.no_bfd
                && a.dump_conf
                && a.address_monitoring
                && a.core_dump
                && a.all_config
        }),
        ("-u 022 -g -M", |a| {
            a.umask.as_deref() == Some("022")
                && a.log_file == Some(None)
                && a.core_dump_pattern == Some(None)
        }),
        (
            "--log-file=/var/log/k.log --core-dump-pattern=core.%p",
            |a| {
                a.log_file == Some(Some("/var/log/k.log".into()))
                    && a.core_dump_pattern == Some(Some("core.%p".into()))
            },
        ),
        (
            "-A /run/agentx --snmp-agent-socket=/x -L -O --no-mem-check --ignore-sigint",
            |a| {
                a.snmp_agent_socket.as_deref() == Some("/x")
                    && a.mem_check_log
                    && a.openssl_mem_check
                    && a.no_mem_check
                    && a.ignore_sigint
            },
        ),
        (
            "--perf --debug=TpMEvcp --config-fd=5 --flush-log-file",
            |a| a.perf == Some(None) && a.debug == Some(Some("TpMEvcp".into())) && a.flush_log_file,
        ),
        // getopt's abbreviations of long options; an exact name wins.
        ("--log-det --dont-release-v --vrrp", |a| {
            a.log_detail == 1 && a.dont_release_vrrp && a.subsystems == VRRP_ONLY
        }),
        // Options repeated, as keepalived's getopt loop allows.
        ("-P -P -n -n", |a| a.subsystems == VRRP_ONLY && a.dont_fork),
        // -P, -C and --all in order.
        ("-P --all", |a| a.subsystems == Subsystems::default()),
        ("--all -P", |a| a.subsystems == VRRP_ONLY),
        ("-P -C", |a| !a.subsystems.vrrp && !a.subsystems.checkers),
        ("", |a| {
            a.subsystems == Subsystems::default() && a.config == Path::new(DEFAULT_CONFIG_PATH)
        }),
        ("-t", |a| a.config_test == Some(None)),
        ("-t -f /etc/k.conf", |a| {
            a.config_test == Some(None) && a.config == Path::new("/etc/k.conf")
        }),
        ("--config-test=/tmp/t.log", |a| {
            a.config_test == Some(Some("/tmp/t.log".into()))
        }),
        ("--signum=RELOAD", |a| a.signum.as_deref() == Some("RELOAD")),
        // getopt's optional arguments, attached to the short option.
        ("-t/tmp/t.log", |a| {
            a.config_test == Some(Some("/tmp/t.log".into()))
        }),
        ("-Dt/tmp/t.log", |a| {
            a.log_detail == 1 && a.config_test == Some(Some("/tmp/t.log".into()))
        }),
        ("-t=/tmp/t.log", |a| {
            a.config_test == Some(Some("/tmp/t.log".into()))
        }),
        ("-g/var/log/k.log -Mcore.%p", |a| {
            a.log_file == Some(Some("/var/log/k.log".into()))
                && a.core_dump_pattern == Some(Some("core.%p".into()))
        }),
        ("-Dt", |a| a.log_detail == 1 && a.config_test == Some(None)),
        ("-S7 -f/etc/k.conf", |a| {
            a.log_facility.as_deref() == Some("7") && a.config == Path::new("/etc/k.conf")
        }),
        ("-ft.conf", |a| {
            a.config == Path::new("t.conf") && a.config_test.is_none()
        }),
    ];
    for (line, check) in table {
        let cli = parse(line);
        assert!(cli.command.is_none(), "`{line}`");
        assert!(check(&cli.run), "`{line}`: {:#?}", cli.run);
    }
}

const DEFAULT_CONFIG_PATH: &str = crate::cli::DEFAULT_CONFIG;

#[test]
fn genhash_mode_takes_the_rest_of_the_line() {
    for line in [
        "-T -s 192.0.2.1 -p 8080 -u /x",
        "--genhash -s 192.0.2.1 -p 8080 -u /x",
        "-D -T -s 192.0.2.1 -p 8080 -u /x",
    ] {
        let cli = parse(line);
        let Some(Command::Genhash(args)) = cli.command else {
            panic!("`{line}`: {:?}", cli.command);
        };
        assert_eq!(
            (args.server.as_str(), args.port, args.url.as_str()),
            ("192.0.2.1", Some(8080), "/x")
        );
    }
}

#[test]
fn version_is_lower_case_v_and_bad_options_are_errors() {
    let version = parse_from(["lb-daemon", "-v"]).unwrap_err();
    assert_eq!(version.kind(), clap::error::ErrorKind::DisplayVersion);
    let version = parse_from(["lb-daemon", "--version"]).unwrap_err();
    assert_eq!(version.kind(), clap::error::ErrorKind::DisplayVersion);
    for bad in ["-q", "--no-such-option", "-f"] {
        let error = parse_from(["lb-daemon", bad]).unwrap_err();
        assert!(error.use_stderr(), "{bad}");
    }
}

#[test]
fn subcommands_still_parse() {
    assert!(matches!(
        parse("check -f k.conf").command,
        Some(Command::Check(_))
    ));
    assert!(matches!(
        parse("status --json").command,
        Some(Command::Status { json: true, .. })
    ));
}

#[test]
fn one_notice_per_ignored_option_none_for_what_holds() {
    assert!(parse("-D -l -n -G -R -B -e -P -I -d -p /x -i node1")
        .run
        .ignored()
        .is_empty());
    let notes = parse("-S 7 -x -V -X -g -A /s -M=core").run.ignored();
    assert_eq!(notes.len(), 7, "{notes:#?}");
    for option in ["-S/", "-x/", "-V/", "-X/", "-g/", "-A/", "-M/"] {
        let hits = notes.iter().filter(|n| n.starts_with(option)).count();
        assert_eq!(hits, 1, "{option}: {notes:#?}");
    }
    assert!(
        notes.iter().all(|n| n.contains(": ignored; ")),
        "{notes:#?}"
    );
}

#[test]
fn subsystems_cut_the_configuration() {
    let mut config = Config::default();
    config.vrrp_instance.push(Default::default());
    config.vrrp_script.push(Default::default());
    config.track_file.push(Default::default());
    config.virtual_server.push(Default::default());
    let vrrp = VRRP_ONLY.select(config.clone());
    assert_eq!(
        (vrrp.vrrp_instance.len(), vrrp.virtual_server.len()),
        (1, 0)
    );
    let checkers = CHECKERS_ONLY.select(config.clone());
    assert_eq!(
        (checkers.vrrp_instance.len(), checkers.vrrp_script.len()),
        (0, 0)
    );
    assert_eq!(
        (checkers.virtual_server.len(), checkers.track_file.len()),
        (1, 1)
    );
    assert_eq!(Subsystems::default().select(config.clone()), config);
}

#[test]
fn log_filter_follows_d() {
    assert_eq!(parse("").run.log_filter(), "info");
    assert_eq!(parse("-D").run.log_filter(), "debug");
    assert_eq!(parse("-DD").run.log_filter(), "debug,lb_daemon=trace");
}
