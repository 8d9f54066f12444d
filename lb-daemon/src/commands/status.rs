//! `lb-daemon status` as text, derived from the status document.
use serde_json::Value;

/// Human-readable form of a status document.
pub fn render(status: &Value) -> String {
    let mut out = format!(
        "lb-daemon pid {} - configuration {} (generation {})\n",
        status["pid"],
        text(&status["config_file"]),
        status["config_generation"]
    );
    let reload = &status["last_reload"];
    match (reload["result"].as_str(), reload["error"].as_str()) {
        (Some("ok"), _) => out += &format!("  last reload applied at {}\n", when(&reload["at"])),
        (_, Some(why)) => {
            out += &format!("  last reload refused at {}: {why}\n", when(&reload["at"]))
        }
        _ => {}
    }
    for instance in status["vrrp"].as_array().into_iter().flatten() {
        out += &vrrp_text(instance);
    }
    let ipvs = &status["lvs"]["ipvs"];
    if let Some(why) = ipvs["unavailable"].as_str() {
        out += &format!("  IPVS unavailable: {why}\n");
    }
    for vs in status["lvs"]["virtual_servers"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out += &virtual_server_text(vs);
        out += &ipvs_text(ipvs, &vs["vs"]);
    }
    if status["fast_path"].is_object() {
        out += &fast_path_text(&status["fast_path"]);
    }
    for (section, items) in status["config"].as_object().into_iter().flatten() {
        let Some(items) = items.as_array().filter(|i| !i.is_empty()) else {
            continue;
        };
        let labels: Vec<String> = items.iter().map(item_label).collect();
        out += &format!("  {section} ({}): {}\n", labels.len(), labels.join(", "));
    }
    out
}

/// `12 s ago`, or `never`, for a time in seconds since the epoch.
fn when(at: &Value) -> String {
    at.as_u64().map_or_else(
        || "never".to_owned(),
        |t| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            format!("{} s ago", now.map_or(0, |n| n.as_secs().saturating_sub(t)))
        },
    )
}

/// One VRRP instance: state, priority, master, VIPs, last change, counters,
/// tracked objects.
fn vrrp_text(i: &Value) -> String {
    let since = when(&i["last_transition"]);
    let drops: Vec<String> = i["drops"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, n)| n.as_u64() > Some(0))
        .map(|(reason, n)| format!("{reason}={n}"))
        .collect();
    let list =
        |v: &Value| -> Vec<String> { v.as_array().into_iter().flatten().map(text).collect() };
    let (vips, held) = (list(&i["vips"]), list(&i["vips_held"]));
    let mut out = format!(
        "  ({}) {} prio {} (base {}) vrid {} on {}, master {}, VIPs {} (held: {})\n    last change {since}, adverts sent {} received {}, drops {}\n",
        text(&i["name"]),
        text(&i["state"]),
        i["effective_priority"],
        i["base_priority"],
        i["vrid"],
        text(&i["interface"]),
        i["master"].as_str().unwrap_or("unknown"),
        vips.join(" "),
        if held.is_empty() { "none".to_owned() } else { held.join(" ") },
        i["adverts_sent"],
        i["adverts_received"],
        if drops.is_empty() { "none".to_owned() } else { drops.join(" ") },
    );
    if let Some(e) = i["error"].as_str() {
        out += &format!("    error: {e}\n");
    }
    let tracks: Vec<String> = i["tracking"]["tracks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let state = t.get("value").unwrap_or(&t["state"]);
            format!(
                "{} {} {} (weight {})",
                text(&t["kind"]),
                text(&t["name"]),
                text(state),
                t["weight"]
            )
        })
        .collect();
    if !tracks.is_empty() {
        out += &format!("    tracking: {}\n", tracks.join(", "));
    }
    out
}

/// One virtual server: quorum, sorry server and each real server's verdict
/// and programmed weight.
fn virtual_server_text(vs: &Value) -> String {
    let reals: Vec<String> = vs["real_servers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let verdict = match (r["up"] == true, r["drained"] == true) {
                (true, true) => "up, drained",
                (true, false) => "up",
                (false, true) => "down, drained",
                (false, false) => "down",
            };
            let weight = r["programmed_weight"]
                .as_u64()
                .map_or("absent".to_owned(), |w| format!("weight {w}"));
            format!("{}:{} {verdict} ({weight})", text(&r["address"]), r["port"])
        })
        .collect();
    format!(
        "  virtual server {}: quorum {}{}\n    {}\n",
        vs["vs"],
        if vs["quorum_up"] == true {
            "up"
        } else {
            "down"
        },
        if vs["sorry"] == true {
            ", sorry server in use"
        } else {
            ""
        },
        reals.join(", ")
    )
}

/// The XDP fast path: attachment per interface, services and their real
/// servers with traffic, services left to IPVS.
fn fast_path_text(fp: &Value) -> String {
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let mut out = format!("  XDP fast path: {}", text(&fp["state"]));
    if let Some(e) = fp["error"].as_str() {
        out += &format!(" ({e})");
    }
    out += "\n";
    if let Some(maps) = fp["maps"].as_object() {
        let fill: Vec<String> = maps
            .iter()
            .map(|(name, m)| format!("{name} {}/{}", m["used"], m["capacity"]))
            .collect();
        out += &format!("    maps: {}\n", fill.join(", "));
    }
    for i in list(&fp["interfaces"]) {
        let how = match (i["attached"] == true, i["error"].as_str()) {
            (true, _) => format!("attached ({})", text(&i["mode"])),
            (false, Some(e)) => format!("not attached: {e}"),
            (false, None) => "not attached".to_owned(),
        };
        out += &format!("    interface {}: {how}\n", text(&i["name"]));
    }
    for s in list(&fp["services"]) {
        out += &format!(
            "    {} {} on {}: {} packets\n",
            text(&s["service"]),
            text(&s["scheduler"]),
            text(&s["interface"]),
            s["traffic"]["packets"]
        );
        for b in list(&s["backends"]) {
            out += &format!(
                "      {}:{} {} weight {}: {} packets\n",
                text(&b["address"]),
                b["port"],
                text(&b["forwarding"]),
                b["weight"],
                b["traffic"]["packets"]
            );
        }
    }
    for n in list(&fp["not_served"]) {
        out += &format!(
            "    {}: IPVS classic mode ({})\n",
            text(&n["service"]),
            text(&n["reason"])
        );
    }
    out
}

/// What IPVS holds for virtual server `vs` next to what is desired: per
/// service its scheduling, then per destination both sides.
fn ipvs_text(ipvs: &Value, vs: &Value) -> String {
    let mut out = String::new();
    let services = ipvs["services"].as_array().into_iter().flatten();
    for svc in services.filter(|s| &s["vs"] == vs) {
        let (want, have) = (&svc["desired"], &svc["programmed"]);
        out += &format!(
            "    IPVS {}: desired {}, programmed {}\n",
            text(&svc["service"]),
            scheduling(want),
            if have.is_null() {
                "absent".to_owned()
            } else {
                scheduling(have)
            }
        );
        let empty = Vec::new();
        let have_dests = have["destinations"].as_array().unwrap_or(&empty);
        let same = |a: &Value, b: &Value| a["address"] == b["address"] && a["port"] == b["port"];
        let want_dests = want["destinations"].as_array().unwrap_or(&empty);
        let extra = have_dests
            .iter()
            .filter(|h| !want_dests.iter().any(|w| same(w, h)));
        for d in want_dests.iter().chain(extra) {
            let programmed = have_dests.iter().find(|h| same(d, h));
            let desired = want_dests.iter().find(|w| same(d, w));
            out += &format!(
                "      {}: desired {}, programmed {}\n",
                endpoint(d),
                desired.map_or("absent".to_owned(), destination),
                programmed.map_or("absent".to_owned(), |p| format!(
                    "{} (active {}, inactive {})",
                    destination(p),
                    p["active_conns"],
                    p["inactive_conns"]
                )),
            );
        }
    }
    out
}

/// `wrr sh-port persistent 300s /24`: a service's scheduling.
fn scheduling(table: &Value) -> String {
    let mut words = vec![text(&table["scheduler"])];
    words.extend(table["flags"].as_array().into_iter().flatten().map(text));
    if let Some(timeout) = table["persistence_timeout"].as_u64().filter(|t| *t > 0) {
        words.push(format!("timeout {timeout}s /{}", table["netmask"]));
    }
    if let Some(engine) = table["persistence_engine"].as_str() {
        words.push(format!("engine {engine}"));
    }
    words.join(" ")
}

/// `Masq weight 3 u100 l10`: a destination's settings.
fn destination(d: &Value) -> String {
    let mut words = vec![text(&d["forwarding"]), format!("weight {}", d["weight"])];
    for (key, label) in [("u_threshold", "upper"), ("l_threshold", "lower")] {
        if let Some(n) = d[key].as_u64().filter(|n| *n > 0) {
            words.push(format!("{label} {n}"));
        }
    }
    if let Some(kind) = d["tunnel"]["type"].as_str() {
        words.push(kind.to_owned());
    }
    words.join(" ")
}

/// `192.0.2.1:80`, `[2001:db8::1]:80`.
fn endpoint(d: &Value) -> String {
    let address = text(&d["address"]);
    match address.contains(':') {
        true => format!("[{address}]:{}", d["port"]),
        false => format!("{address}:{}", d["port"]),
    }
}

/// A JSON value as plain text (strings without quotes).
fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// A short label for one configured item: its name, or its address and port.
fn item_label(item: &Value) -> String {
    let field = |key: &str| item.get(key).filter(|v| !v.is_null());
    match (
        field("name"),
        field("address"),
        field("fwmark"),
        field("group"),
    ) {
        (Some(name), ..) => text(name),
        (None, Some(addr), ..) => match field("port") {
            Some(port) => format!("{} {}", text(addr), text(port)),
            None => text(addr),
        },
        (None, None, Some(mark), _) => format!("fwmark {}", text(mark)),
        (None, None, None, Some(group)) => format!("group {}", text(group)),
        _ => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn status(ipvs: Value) -> Value {
        json!({
            "pid": 1,
            "config_file": "k.conf",
            "config_generation": 1,
            "lvs": {
                "virtual_servers": [{"vs": 0, "quorum_up": true, "real_servers": []}],
                "ipvs": ipvs,
            },
        })
    }

    #[test]
    fn ipvs_unavailable_is_said_once() {
        let text = render(&status(json!({
            "available": false,
            "unavailable": "kernel module ip_vs is not loaded",
            "services": [],
        })));
        assert_eq!(
            text.matches("IPVS unavailable: kernel module ip_vs is not loaded")
                .count(),
            1,
            "{text}"
        );
    }

    #[test]
    fn programmed_is_shown_next_to_desired() {
        let dest = |port: u16, weight: u32| {
            json!({"address": "2001:db8::2", "port": port, "forwarding": "Masq",
                   "weight": weight, "u_threshold": 100, "l_threshold": 0,
                   "active_conns": 4, "inactive_conns": 1})
        };
        let table = |dests: Vec<Value>| {
            json!({"scheduler": "sh", "flags": ["sh-port"], "persistence_timeout": 300,
                   "netmask": 24, "persistence_engine": null, "destinations": dests})
        };
        let text = render(&status(json!({
            "available": true,
            "services": [{
                "vs": 0,
                "service": "TCP 192.0.2.1:80",
                "desired": table(vec![dest(80, 2), dest(81, 1)]),
                "programmed": table(vec![dest(80, 0), dest(82, 1)]),
            }],
        })));
        for line in [
            "    IPVS TCP 192.0.2.1:80: desired sh sh-port timeout 300s /24, programmed sh sh-port timeout 300s /24",
            "      [2001:db8::2]:80: desired Masq weight 2 upper 100, programmed Masq weight 0 upper 100 (active 4, inactive 1)",
            "      [2001:db8::2]:81: desired Masq weight 1 upper 100, programmed absent",
            "      [2001:db8::2]:82: desired absent, programmed Masq weight 1 upper 100 (active 4, inactive 1)",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\nnot in\n{text}");
        }
    }

    #[test]
    fn drains_held_vips_map_fill_and_reloads_are_shown() {
        let mut doc = status(json!({"available": false, "services": []}));
        doc["lvs"]["virtual_servers"][0]["real_servers"] = json!([
            {"address": "198.51.100.7", "port": 80, "up": true, "drained": true, "programmed_weight": 0},
            {"address": "198.51.100.8", "port": 80, "up": false, "drained": false, "programmed_weight": null},
        ]);
        doc["vrrp"] = json!([{"name": "VI_1", "state": "MASTER", "effective_priority": 140,
            "base_priority": 150, "vrid": 51, "interface": "eth0", "vips": ["192.0.2.50/24"],
            "vips_held": ["192.0.2.50/24"], "tracking": {"tracks": [
                {"kind": "script", "name": "chk", "state": "down", "weight": -10}]}}]);
        doc["fast_path"] = json!({"state": "running", "maps": {
            "flows": {"used": 6, "capacity": 262144}, "services": {"used": 1, "capacity": 256}}});
        doc["last_reload"] = json!({"at": 0, "result": "error", "error": "bad line 3"});
        let text = render(&doc);
        for part in [
            "198.51.100.7:80 up, drained (weight 0), 198.51.100.8:80 down (absent)",
            "(VI_1) MASTER prio 140 (base 150) vrid 51 on eth0, master unknown, VIPs 192.0.2.50/24 (held: 192.0.2.50/24)",
            "    tracking: script chk down (weight -10)\n",
            "    maps: flows 6/262144, services 1/256\n",
            "  last reload refused at ",
        ] {
            assert!(text.contains(part), "{part}\nnot in\n{text}");
        }
    }

    #[test]
    fn configured_items_are_labelled_by_name_address_fwmark_or_group() {
        let labels: Vec<String> = [
            json!({"name": "VI_1"}),
            json!({"address": "192.0.2.50", "port": 80, "fwmark": null}),
            json!({"address": null, "port": null, "fwmark": 7, "group": null}),
            json!({"address": null, "port": null, "fwmark": null, "group": "G1"}),
        ]
        .iter()
        .map(item_label)
        .collect();
        assert_eq!(labels, ["VI_1", "192.0.2.50 80", "fwmark 7", "group G1"]);
    }
}
