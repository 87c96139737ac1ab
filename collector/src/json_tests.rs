//! The fast path's OTLP/JSON against serde's reading of it.

use super::*;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn json(span: &Span) -> String {
    let mut out = Vec::new();
    write_span(&span.encode_to_vec(), &mut out, &mut Repeats::default()).unwrap();
    String::from_utf8(out).unwrap()
}

/// serde reads back the very span, on the fast path and off it (links
/// and other value kinds, written by serde itself).
#[test]
fn the_json_reads_back_as_the_span() {
    use any_value::Value::*;
    let full = Span {
        trace_id: (1..=16).collect(),
        span_id: vec![0xab; 8],
        trace_state: "k=v".into(),
        parent_span_id: vec![0, 1, 2, 3, 4, 5, 6, 0xff],
        flags: 1,
        name: "svc/Ep \"quoted\" \\ é \u{1}".into(),
        kind: 2,
        start_time_unix_nano: u64::MAX,
        end_time_unix_nano: 1,
        attributes: vec![
            kv("s", StringValue("v\n".into())),
            kv("", StringValue(String::new())),
            kv("i", IntValue(-42)),
            kv("z", IntValue(0)),
        ],
        dropped_attributes_count: 3,
        events: vec![
            Event {
                time_unix_nano: 77,
                name: "version pushed".into(),
                attributes: vec![kv("topolab.version", IntValue(9))],
                dropped_attributes_count: 1,
            },
            Event::default(),
        ],
        dropped_events_count: 2,
        dropped_links_count: 4,
        status: Some(Status {
            message: "Unavailable: x".into(),
            code: 2,
        }),
        ..Default::default()
    };
    let mut no_status = full.clone();
    no_status.status = None;
    let mut link = full.clone();
    link.links = vec![Link::default()];
    let mut other_values = full.clone();
    other_values.attributes = vec![
        kv("b", BoolValue(true)),
        kv("d", DoubleValue(1.5)),
        kv("y", BytesValue(vec![1, 2])),
        KeyValue::default(),
    ];
    let empty = Span {
        status: Some(Status::default()),
        ..Default::default()
    };
    // Which path wrote it shows: serde writes `"links":[]`, the fast
    // path leaves the empty list out.
    let fast = [true, true, false, false, true, true];
    for (span, fast) in [full, no_status, link, other_values, empty, Span::default()]
        .into_iter()
        .zip(fast)
    {
        let text = json(&span);
        assert_eq!(!text.contains("\"links\""), fast, "{text}");
        let back: Span = serde_json::from_str(&text).unwrap();
        assert_eq!(back, span, "{text}");
    }
}

/// The fast path leaves out what is at its default: a traced root
/// span has no parent, trace state, drops, events or links to write.
#[test]
fn defaults_are_left_out() {
    let root = Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "svc/Ep".into(),
        kind: 2,
        start_time_unix_nano: 10,
        end_time_unix_nano: 20,
        status: Some(Status::default()),
        ..Default::default()
    };
    assert_eq!(
        json(&root),
        r#"{"traceId":"01010101010101010101010101010101","spanId":"0202020202020202","name":"svc/Ep","kind":2,"startTimeUnixNano":"10","endTimeUnixNano":"20","status":{}}"#
    );
    let failed = Span {
        status: Some(Status {
            message: "no".into(),
            code: 2,
        }),
        ..root
    };
    assert!(json(&failed).ends_with(r#""status":{"message":"no","code":2}}"#));
}

/// Bytes a prost encoder would not write but that are a valid span
/// (a field twice, the last one winning; a repeated field's items apart)
/// go to serde, which reads them as prost does.
#[test]
fn fields_out_of_the_usual_shape_go_to_serde() {
    let part = |span: Span| span.encode_to_vec();
    let a = kv("a", any_value::Value::IntValue(1));
    let b = kv("b", any_value::Value::IntValue(2));
    let name = |n: &str| Span {
        name: n.into(),
        ..Default::default()
    };
    let attrs = |kvs: Vec<KeyValue>| Span {
        attributes: kvs,
        ..Default::default()
    };
    for bytes in [
        [part(name("first")), part(name("last"))].concat(),
        [
            part(attrs(vec![a.clone()])),
            part(name("x")),
            part(attrs(vec![b.clone()])),
        ]
        .concat(),
    ] {
        let mut out = Vec::new();
        write_span(&bytes, &mut out, &mut Repeats::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\"links\""), "not written by serde: {text}");
        let back: Span = serde_json::from_str(&text).unwrap();
        assert_eq!(back, Span::decode(bytes.as_slice()).unwrap());
    }
    // Items together, as encoders write them: the fast path.
    let together = [part(attrs(vec![a, b])), part(name("x"))].concat();
    let mut out = Vec::new();
    write_span(&together, &mut out, &mut Repeats::default()).unwrap();
    assert!(!String::from_utf8(out).unwrap().contains("\"links\""));
}

#[test]
fn bytes_that_are_not_a_span_fail() {
    let mut out = Vec::new();
    assert!(write_span(&[0x0a, 0x20, 1], &mut out, &mut Repeats::default()).is_err());
}

/// Attributes copied from the table are exactly the ones written anew:
/// many spans, more distinct attributes than the table has slots (so slots
/// are taken over), through one table and each through a fresh one.
#[test]
fn repeated_attributes_are_copied_exactly() {
    use any_value::Value::{IntValue, StringValue};
    let mut shared = Repeats::default();
    for round in 0..3 {
        for i in 0..600 {
            let span = Span {
                attributes: vec![
                    kv("topolab.service", StringValue(format!("svc{}", i % 300))),
                    kv("n", IntValue(i % 130)),
                    kv("rpc.system", StringValue("grpc".into())),
                ],
                ..Default::default()
            };
            let bytes = span.encode_to_vec();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            write_span(&bytes, &mut a, &mut shared).unwrap();
            write_span(&bytes, &mut b, &mut Repeats::default()).unwrap();
            assert_eq!(a, b, "round {round}, span {i}");
        }
    }
}
