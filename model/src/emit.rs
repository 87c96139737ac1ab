//! Writes a located tree back out as block-style YAML: the topology as run
//! when `--set` overrides changed it. Comments and flow style are not kept;
//! loading the output again gives the same topology.

use crate::tree::Node;

/// The document as YAML text, ending in a newline.
pub fn emit(node: &Node) -> String {
    let mut out = String::new();
    match node {
        Node::Map(e) if e.is_empty() => out.push_str("{}\n"),
        Node::Seq(s) if s.is_empty() => out.push_str("[]\n"),
        Node::Map(_) | Node::Seq(_) => block(&mut out, node, 0),
        _ => {
            out.push_str(&inline(node));
            out.push('\n');
        }
    }
    out
}

/// A non-empty map or list, each line indented by `indent` spaces.
fn block(out: &mut String, node: &Node, indent: usize) {
    let pad = " ".repeat(indent);
    match node {
        Node::Map(entries) => {
            for (k, v) in entries {
                out.push_str(&format!("{pad}{}:", scalar(&k.value)));
                value(out, &v.value, indent + 2);
            }
        }
        Node::Seq(items) => {
            for item in items {
                let mut inner = String::new();
                match &item.value {
                    Node::Map(e) if !e.is_empty() => block(&mut inner, &item.value, indent + 2),
                    Node::Seq(s) if !s.is_empty() => block(&mut inner, &item.value, indent + 2),
                    other => inner = format!("{}  {}\n", pad, inline(other)),
                }
                // Every line of `inner` starts with indent + 2 spaces; the
                // first one's last two become the `- ` of the item.
                out.push_str(&pad);
                out.push_str("- ");
                out.push_str(&inner[indent + 2..]);
            }
        }
        _ => out.push_str(&format!("{pad}{}\n", inline(node))),
    }
}

/// What follows `key:`: an inline value, or a block on the next lines.
fn value(out: &mut String, node: &Node, indent: usize) {
    match node {
        Node::Map(e) if !e.is_empty() => {
            out.push('\n');
            block(out, node, indent);
        }
        Node::Seq(s) if !s.is_empty() => {
            out.push('\n');
            block(out, node, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}

fn inline(node: &Node) -> String {
    match node {
        Node::Null => "~".into(),
        Node::Scalar(s) => scalar(s),
        Node::Map(_) => "{}".into(),
        Node::Seq(_) => "[]".into(),
    }
}

/// A scalar plain when YAML reads it back as the same text, else quoted.
fn scalar(s: &str) -> String {
    if plain_is_safe(s) {
        return s.to_string();
    }
    let mut q = String::from('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c if c.is_control() => q.push_str(&format!("\\u{:04x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn plain_is_safe(s: &str) -> bool {
    // A number reads back as itself only in its canonical spelling.
    if let Ok(n) = s.parse::<f64>() {
        return n.is_finite()
            && (n.to_string() == s || s.parse::<i64>().is_ok_and(|i| i.to_string() == s));
    }
    let lower = s.to_ascii_lowercase();
    let special = ["null", "true", "false", "yes", "no", "on", "off", "y", "n"];
    let numeric_prefix = ["0x", "0o", "0b", "+", "-0x", "-0o", "-0b"];
    let first_ok = s.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '(');
    first_ok
        && !s.ends_with(' ')
        && !special.contains(&lower.as_str())
        && !numeric_prefix.iter().any(|p| lower.starts_with(p))
        && s.chars()
            .all(|c| c.is_alphanumeric() || " _./%()>,+-".contains(c))
        && !s.contains("  ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::parse;

    /// The tree without locations, to compare documents.
    fn shape(n: &Node) -> String {
        match n {
            Node::Null => "~".into(),
            Node::Scalar(s) => format!("{s:?}"),
            Node::Seq(items) => {
                let items: Vec<String> = items.iter().map(|i| shape(&i.value)).collect();
                format!("[{}]", items.join(","))
            }
            Node::Map(entries) => {
                let e: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{:?}:{}", k.value, shape(&v.value)))
                    .collect();
                format!("{{{}}}", e.join(","))
            }
        }
    }

    #[test]
    fn emitted_yaml_parses_to_the_same_tree() {
        let text = "name: \"1.50\"\nq: \"null\"\nn: 12\nf: 1.5\nservices:\n  a:\n    endpoints:\n      X:\n        steps:\n          - work: uniform(1ms, 3ms)\n          - parallel:\n              - call: b/Y\n              - [ {work: 1ms}, {call: c/Z, timeout: 5ms} ]\n      Y: {}\n      Z:\n    quote: \"a: b # c\"\n    odd: '0x10'\n    ramp: 1/s -> 20/s\n    list: []\n";
        let tree = parse(text).unwrap();
        let out = emit(&tree.value);
        let again = parse(&out).unwrap();
        assert_eq!(shape(&again.value), shape(&tree.value), "{out}");
        assert!(out.contains("name: \"1.50\"\n"), "{out}");
        assert!(out.contains("odd: \"0x10\"\n"), "{out}");
        assert!(out.contains("ramp: 1/s -> 20/s\n"), "{out}");
        assert!(out.contains("- work: uniform(1ms, 3ms)\n"), "{out}");
    }
}
