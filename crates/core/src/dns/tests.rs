#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use proptest::prelude::*;

use super::*;

const DOMAIN: &str = "launchpad.com";

fn input(t: &str, name: &str, value: &str) -> RecordInput {
    RecordInput {
        record_type: t.to_owned(),
        name: name.to_owned(),
        value: value.to_owned(),
        ttl: None,
        priority: None,
    }
}

fn ok(i: &RecordInput) -> Record {
    validate_record(i, DOMAIN).unwrap_or_else(|e| panic!("{i:?} refused: {e:?}"))
}

/// The fields named in the refusal of `i`.
fn refused(i: &RecordInput) -> Vec<String> {
    match validate_record(i, DOMAIN) {
        Ok(r) => panic!("{i:?} was accepted as {r:?}"),
        Err(e) => e.into_vec().into_iter().map(|f| f.field).collect(),
    }
}

fn with_priority(mut i: RecordInput, p: i64) -> RecordInput {
    i.priority = Some(p);
    i
}

#[test]
fn a_records_take_ipv4_addresses_in_canonical_form() {
    let r = ok(&input("A", "@", " 203.0.113.10 "));
    assert_eq!(
        (r.name.as_str(), r.value.as_str(), r.ttl),
        ("@", "203.0.113.10", DEFAULT_TTL)
    );
    assert_eq!(r.record_type, RecordType::A);
    for bad in [
        "256.1.1.1",
        "1.2.3",
        "01.2.3.4",
        "2001:db8::1",
        "example.com",
        "1.2.3.4.5",
    ] {
        assert_eq!(refused(&input("A", "www", bad)), ["value"], "{bad}");
    }
}

#[test]
fn aaaa_records_take_ipv6_addresses_normalized() {
    let r = ok(&input("aaaa", "www", "2001:DB8:0:0:0:0:0:10"));
    assert_eq!(r.value, "2001:db8::10");
    assert_eq!(r.record_type, RecordType::Aaaa);
    for bad in ["203.0.113.1", "2001:db8:::1", "gggg::1", "2001:db8::1/64"] {
        assert_eq!(refused(&input("AAAA", "www", bad)), ["value"], "{bad}");
    }
}

#[test]
fn cname_targets_are_host_names_and_never_at_the_apex_or_pointing_at_themselves() {
    let r = ok(&input("CNAME", "WWW", "Target.Example.NET."));
    assert_eq!(
        (r.name.as_str(), r.value.as_str()),
        ("www", "target.example.net")
    );
    assert_eq!(
        refused(&input("CNAME", "@", "target.example.net")),
        ["name"]
    );
    assert_eq!(
        refused(&input("CNAME", "launchpad.com.", "x.example.net")),
        ["name"]
    );
    assert_eq!(
        refused(&input("CNAME", "www", "www.launchpad.com")),
        ["value"]
    );
    assert_eq!(
        ok(&input(
            "CNAME",
            "_acme-challenge",
            "_acme-challenge.dns.example.net"
        ))
        .value,
        "_acme-challenge.dns.example.net"
    );
    assert_eq!(
        refused(&with_priority(input("MX", "@", "mail_1.example.com"), 1)),
        ["value"]
    );
    for bad in [
        "localhost",
        "-bad.example.com",
        "a..b.com",
        "203.0.113.1",
        "http://x.com",
    ] {
        assert_eq!(refused(&input("CNAME", "www", bad)), ["value"], "{bad}");
    }
}

#[test]
fn mx_and_srv_need_a_priority_and_others_refuse_one() {
    assert_eq!(refused(&input("MX", "@", "mail.example.com")), ["priority"]);
    let r = ok(&with_priority(input("MX", "@", "Mail.Example.com"), 10));
    assert_eq!(
        (r.value.as_str(), r.priority),
        ("mail.example.com", Some(10))
    );
    assert_eq!(
        refused(&with_priority(input("MX", "@", "mail.example.com"), 65_536)),
        ["priority"]
    );
    assert_eq!(
        refused(&with_priority(input("MX", "@", "mail.example.com"), -1)),
        ["priority"]
    );
    assert_eq!(
        refused(&with_priority(input("A", "@", "203.0.113.1"), 10)),
        ["priority"]
    );
    assert_eq!(
        refused(&with_priority(input("TXT", "@", "hello"), 0)),
        ["priority"]
    );
}

#[test]
fn txt_values_are_printable_text_up_to_a_bound() {
    let r = ok(&input("TXT", "_dmarc", "v=DMARC1; p=none"));
    assert_eq!(
        (r.name.as_str(), r.value.as_str()),
        ("_dmarc", "v=DMARC1; p=none")
    );
    assert!(validate_record(&input("TXT", "@", &"a".repeat(MAX_TXT_LEN)), DOMAIN).is_ok());
    assert_eq!(
        refused(&input("TXT", "@", &"a".repeat(MAX_TXT_LEN + 1))),
        ["value"]
    );
    assert_eq!(refused(&input("TXT", "@", "tab\there")), ["value"]);
    assert_eq!(refused(&input("TXT", "@", "caf\u{e9}")), ["value"]);
    assert_eq!(refused(&input("TXT", "@", "   ")), ["value"]);
}

#[test]
fn ns_records_delegate_subdomains_only() {
    let r = ok(&input("NS", "dev", "ns1.example.net"));
    assert_eq!(r.value, "ns1.example.net");
    assert_eq!(refused(&input("NS", "@", "ns1.example.net")), ["name"]);
    assert_eq!(refused(&input("NS", "dev", "ns1")), ["value"]);
}

#[test]
fn srv_records_have_a_service_name_and_weight_port_target() {
    let r = ok(&with_priority(
        input("SRV", "_sip._tcp", "5  5060 SIP.example.com."),
        10,
    ));
    assert_eq!(r.value, "5 5060 sip.example.com");
    assert!(
        validate_record(
            &with_priority(input("SRV", "_sip._tcp.eu", "0 0 ."), 0),
            DOMAIN
        )
        .is_ok()
    );
    assert_eq!(
        refused(&with_priority(
            input("SRV", "sip", "5 5060 sip.example.com"),
            1
        )),
        ["name"]
    );
    assert_eq!(
        refused(&with_priority(
            input("SRV", "_sip", "5 5060 sip.example.com"),
            1
        )),
        ["name"]
    );
    for bad in [
        "5 5060",
        "5 70000 sip.example.com",
        "-1 5060 sip.example.com",
        "a b c",
        "5 5060 sip.example.com extra",
    ] {
        assert_eq!(
            refused(&with_priority(input("SRV", "_sip._tcp", bad), 1)),
            ["value"],
            "{bad}"
        );
    }
}

#[test]
fn caa_records_have_flags_a_known_tag_and_a_quoted_value() {
    let r = ok(&input("CAA", "@", "0 issue \"letsencrypt.org\""));
    assert_eq!(r.value, "0 issue \"letsencrypt.org\"");
    assert_eq!(
        ok(&input("CAA", "@", "0 ISSUEWILD ;")).value,
        "0 issuewild \";\""
    );
    assert_eq!(
        ok(&input("CAA", "@", "128 iodef \"mailto:sec@launchpad.com\"")).value,
        "128 iodef \"mailto:sec@launchpad.com\""
    );
    for bad in [
        "0 issue",
        "256 issue \"x\"",
        "0 unknown \"x\"",
        "0 iodef \"ftp://x\"",
        "0 issue \"unterminated",
        "0 issue \"a\"b\"",
        "x issue \"y\"",
    ] {
        assert_eq!(refused(&input("CAA", "@", bad)), ["value"], "{bad}");
    }
}

#[test]
fn names_are_relative_lowercase_labels_and_full_names_inside_the_domain_are_shortened() {
    assert_eq!(ok(&input("A", "", "203.0.113.1")).name, "@");
    assert_eq!(ok(&input("A", "LaunchPad.com.", "203.0.113.1")).name, "@");
    assert_eq!(
        ok(&input("A", "api.v2.launchpad.com", "203.0.113.1")).name,
        "api.v2"
    );
    assert_eq!(ok(&input("A", "*.dev", "203.0.113.1")).name, "*.dev");
    for bad in [
        "-www",
        "www-",
        "a..b",
        "sp ace",
        "dev.*",
        "caf\u{e9}",
        &"a".repeat(64),
    ] {
        assert_eq!(refused(&input("A", bad, "203.0.113.1")), ["name"], "{bad}");
    }
    assert_eq!(
        refused(&input("A", "launchpad.com.launchpad.com", "203.0.113.1")),
        ["name"]
    );
    let long = vec!["a".repeat(60); 4].join(".");
    assert_eq!(refused(&input("A", &long, "203.0.113.1")), ["name"]);
}

#[test]
fn ttl_has_bounds_and_a_default_and_every_bad_field_is_named() {
    let mut i = input("A", "www", "203.0.113.1");
    i.ttl = Some(MIN_TTL);
    assert_eq!(ok(&i).ttl, 60);
    i.ttl = Some(MAX_TTL);
    assert_eq!(ok(&i).ttl, 86_400);
    i.ttl = Some(59);
    assert_eq!(refused(&i), ["ttl"]);
    i.ttl = Some(86_401);
    assert_eq!(refused(&i), ["ttl"]);
    let mut all = input("MX", "-bad", "not a host");
    all.ttl = Some(0);
    assert_eq!(refused(&all), ["name", "ttl", "priority", "value"]);
    assert_eq!(refused(&input("SPF", "bad name", "x")), ["type", "name"]);
}

#[test]
fn upsert_keys_include_the_value_only_for_multi_valued_types() {
    let a1 = ok(&input("A", "www", "203.0.113.1"));
    let a2 = ok(&input("A", "www", "203.0.113.2"));
    assert_eq!(a1.upsert_key(), a2.upsert_key());
    let t1 = ok(&input("TXT", "@", "one"));
    let t2 = ok(&input("TXT", "@", "two"));
    assert_ne!(t1.upsert_key(), t2.upsert_key());
    let m1 = ok(&with_priority(input("MX", "@", "mail.example.com"), 10));
    let m2 = ok(&with_priority(input("MX", "@", "MAIL.example.com."), 20));
    assert_eq!(
        m1.upsert_key(),
        m2.upsert_key(),
        "same host, new priority: replaced"
    );
    assert_eq!(a1.fqdn(DOMAIN), "www.launchpad.com");
    assert_eq!(t1.fqdn(DOMAIN), "launchpad.com");
}

#[test]
fn a_cname_excludes_every_other_record_at_its_name() {
    let cname = ok(&input("CNAME", "www", "target.example.net"));
    let a = ok(&input("A", "www", "203.0.113.1"));
    assert!(cname_conflict(&cname, [(RecordType::A, "www")]).is_some());
    assert!(cname_conflict(&cname, [(RecordType::A, "api")]).is_none());
    assert!(cname_conflict(&a, [(RecordType::Cname, "www")]).is_some());
    assert!(cname_conflict(&a, [(RecordType::Txt, "www")]).is_none());
    assert!(cname_conflict(&cname, std::iter::empty()).is_none());
}

#[test]
fn nameserver_lists_have_two_to_thirteen_distinct_host_names() {
    let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        validate_nameservers(&list(&["NS1.Example.NET.", "ns2.example.net"])).unwrap(),
        ["ns1.example.net", "ns2.example.net"]
    );
    let fields = |v: &[&str]| {
        validate_nameservers(&list(v))
            .unwrap_err()
            .into_vec()
            .into_iter()
            .map(|f| f.field)
            .collect::<Vec<_>>()
    };
    assert_eq!(fields(&["ns1.example.net"]), ["nameservers"]);
    let many: Vec<String> = (0..14).map(|i| format!("ns{i}.example.net")).collect();
    assert!(validate_nameservers(&many).is_err());
    assert!(validate_nameservers(&many[..13]).is_ok());
    assert_eq!(
        fields(&["ns1.example.net", "NS1.example.net."]),
        ["nameservers[1]"]
    );
    assert_eq!(
        fields(&["bad_host.example", "ns2", "203.0.113.1"]),
        ["nameservers[0]", "nameservers[1]", "nameservers[2]"]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn validators_never_panic_on_arbitrary_input(
        t in "(?s).{0,8}|A|AAAA|CNAME|MX|TXT|NS|SRV|CAA",
        name in "(?s).{0,80}",
        value in "(?s).{0,300}",
        ttl in proptest::option::of(any::<i64>()),
        priority in proptest::option::of(any::<i64>()),
        hosts in proptest::collection::vec("(?s).{0,40}", 0..16),
    ) {
        let i = RecordInput { record_type: t, name, value, ttl, priority };
        if let Ok(r) = validate_record(&i, DOMAIN) {
            // An accepted record validates again to itself (normalization is stable).
            let again = RecordInput {
                record_type: r.record_type.as_str().to_owned(),
                name: r.name.clone(),
                value: r.value.clone(),
                ttl: Some(r.ttl),
                priority: r.priority,
            };
            prop_assert_eq!(validate_record(&again, DOMAIN).ok(), Some(r));
        }
        let _ = validate_nameservers(&hosts);
        let _ = normalize_host(&i.value);
    }

    #[test]
    fn record_shaped_input_round_trips(
        label in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
        a in any::<[u8; 4]>(),
        ttl in MIN_TTL..=MAX_TTL,
    ) {
        let ip = std::net::Ipv4Addr::from(a).to_string();
        let r = validate_record(&RecordInput { record_type: "A".into(), name: label.clone(), value: ip.clone(), ttl: Some(ttl), priority: None }, DOMAIN);
        prop_assert_eq!(r.map(|r| (r.name, r.value, r.ttl)).ok(), Some((label, ip, ttl)));
    }
}
