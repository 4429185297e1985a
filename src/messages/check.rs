//! Start-up checks on the template files: which variables each message uses, and where a
//! parse error sits, so a broken translation stops the program with a precise pointer.

use std::collections::BTreeSet;

use fluent_bundle::FluentResource;
use fluent_syntax::ast;

/// 1-based line of a byte offset in `source`.
pub fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Each message id in the resource with the variables its value and attributes reference.
/// Terms are skipped: their variables are their own parameters, not the caller's.
pub fn message_variables(resource: &FluentResource) -> Vec<(String, BTreeSet<String>)> {
    resource
        .entries()
        .filter_map(|entry| match entry {
            ast::Entry::Message(message) => {
                let mut vars = BTreeSet::new();
                if let Some(pattern) = &message.value {
                    pattern_vars(pattern, &mut vars);
                }
                for attribute in &message.attributes {
                    pattern_vars(&attribute.value, &mut vars);
                }
                Some((message.id.name.to_string(), vars))
            }
            _ => None,
        })
        .collect()
}

fn pattern_vars(pattern: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_vars(expression, out);
        }
    }
}

fn expression_vars(expression: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
    match expression {
        ast::Expression::Select { selector, variants } => {
            inline_vars(selector, out);
            for variant in variants {
                pattern_vars(&variant.value, out);
            }
        }
        ast::Expression::Inline(inline) => inline_vars(inline, out),
    }
}

fn inline_vars(inline: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>) {
    match inline {
        ast::InlineExpression::VariableReference { id } => {
            out.insert(id.name.to_string());
        }
        ast::InlineExpression::FunctionReference { arguments, .. } => {
            call_vars(arguments, out);
        }
        ast::InlineExpression::TermReference {
            arguments: Some(arguments),
            ..
        } => call_vars(arguments, out),
        ast::InlineExpression::Placeable { expression } => expression_vars(expression, out),
        ast::InlineExpression::StringLiteral { .. }
        | ast::InlineExpression::NumberLiteral { .. }
        | ast::InlineExpression::MessageReference { .. }
        | ast::InlineExpression::TermReference {
            arguments: None, ..
        } => {}
    }
}

fn call_vars(arguments: &ast::CallArguments<&str>, out: &mut BTreeSet<String>) {
    for positional in &arguments.positional {
        inline_vars(positional, out);
    }
    for named in &arguments.named {
        inline_vars(&named.value, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars_of(ftl: &str) -> Vec<(String, Vec<String>)> {
        let resource = FluentResource::try_new(ftl.to_string()).expect("valid ftl");
        message_variables(&resource)
            .into_iter()
            .map(|(id, vars)| (id, vars.into_iter().collect()))
            .collect()
    }

    #[test]
    fn variables_inside_selectors_and_functions_are_found() {
        let found = vars_of(
            "left = { $days_left ->\n    [one] one day for { $account }\n   *[other] { NUMBER($score) } days\n}\n",
        );
        assert_eq!(
            found,
            vec![(
                "left".to_string(),
                vec!["account".into(), "days_left".into(), "score".into()]
            )]
        );
    }

    #[test]
    fn a_terms_own_parameters_are_not_counted_as_the_callers() {
        let found = vars_of("-brand = Touch{ $case }\nhi = Hello from { -brand(case: \"x\") }\n");
        assert_eq!(found, vec![("hi".to_string(), vec![])]);
    }

    #[test]
    fn lines_are_counted_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
