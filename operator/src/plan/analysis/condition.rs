//! `successCondition` and `failureCondition`: CEL over `result`, compiled with the `cel` crate.

use cel::{Context, Program, Value};

use super::MeasuredValue;

/// The only variable a condition may read.
const RESULT: &str = "result";

/// A condition that compiled and reads nothing but `result`.
pub struct Condition {
    program: Program,
}

impl Condition {
    /// Compiles `source`; the error names the position of the problem, for the status.
    pub fn compile(source: &str) -> Result<Condition, String> {
        let program = Program::compile(source).map_err(|errors| {
            errors
                .errors
                .iter()
                .map(|e| format!("line {} column {}: {}", e.pos.0, e.pos.1 + 1, e.msg))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        // `references()` also lists the variables that macros such as `all(x, ...)` bind;
        // those are not free.
        let bound = bound_variables(source);
        let references = program.references();
        let mut unknown: Vec<&str> = references
            .variables()
            .into_iter()
            .filter(|v| *v != RESULT && !bound.iter().any(|b| b == v))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        if !unknown.is_empty() {
            return Err(format!(
                "unknown variable {}: a condition reads only `result`",
                unknown
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(Condition { program })
    }

    /// Whether the condition holds for `value`, or why it cannot say.
    pub fn holds(&self, value: &MeasuredValue) -> Result<bool, String> {
        let mut context = Context::default();
        context.add_variable_from_value(RESULT, cel_value(value));
        match self.program.execute(&context) {
            Ok(Value::Bool(holds)) => Ok(holds),
            Ok(other) => Err(format!("the condition gave {other:?}, not true or false")),
            Err(error) => Err(format!("the condition cannot be evaluated: {error}")),
        }
    }
}

/// Names bound by the comprehension macros: the first argument of `all`, `exists`,
/// `exists_one`, `map` and `filter`.
fn bound_variables(source: &str) -> Vec<String> {
    let mut bound = Vec::new();
    for name in ["all(", "exists(", "exists_one(", "map(", "filter("] {
        let mut rest = source;
        while let Some(at) = rest.find(name) {
            let after = &rest[at + name.len()..];
            let variable: String = after
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !variable.is_empty() {
                bound.push(variable);
            }
            rest = after;
        }
    }
    bound
}

fn cel_value(value: &MeasuredValue) -> Value {
    match value {
        MeasuredValue::Scalar(x) => Value::Float(*x),
        MeasuredValue::Vector(xs) => Value::List(std::sync::Arc::new(
            xs.iter().map(|x| Value::Float(*x)).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holds(source: &str, value: MeasuredValue) -> Result<bool, String> {
        Condition::compile(source)?.holds(&value)
    }

    #[test]
    fn scalars_and_vectors_are_judged() {
        assert_eq!(
            holds("result < 0.01", MeasuredValue::Scalar(0.002)),
            Ok(true)
        );
        assert_eq!(
            holds("result <= 0.5", MeasuredValue::Scalar(0.7)),
            Ok(false)
        );
        // Integer literals compare with the double result.
        assert_eq!(holds("result >= 1", MeasuredValue::Scalar(2.0)), Ok(true));
        let vector = MeasuredValue::Vector(vec![0.1, 0.3]);
        assert_eq!(holds("result.all(x, x < 0.5)", vector.clone()), Ok(true));
        assert_eq!(holds("result.exists(x, x > 0.2)", vector.clone()), Ok(true));
        assert_eq!(
            holds("size(result) == 2 && result[1] > 0.2", vector),
            Ok(true)
        );
    }

    #[test]
    fn syntax_errors_say_where() {
        let error = Condition::compile("result <").err().unwrap_or_default();
        assert!(error.contains("line 1 column"), "{error}");
    }

    #[test]
    fn only_result_may_be_read() {
        let error = Condition::compile("value < 1 && result > 0")
            .err()
            .unwrap_or_default();
        assert!(error.contains("unknown variable `value`"), "{error}");
    }

    #[test]
    fn a_condition_that_is_not_a_boolean_or_fails_to_evaluate_is_an_error() {
        assert!(holds("result + 1.0", MeasuredValue::Scalar(1.0)).is_err());
        assert!(holds("result[3] > 1.0", MeasuredValue::Vector(vec![1.0])).is_err());
    }
}
