//! Logging: JSON in Lambda (or with `AWS_LAMBDA_LOG_FORMAT=JSON`), compact text elsewhere.

pub fn init() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"))
        || std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if json {
        builder.json().without_time().try_init()
    } else {
        builder.compact().try_init()
    };
}

/// The CloudWatch namespace of Herald's metrics.
pub const NAMESPACE: &str = "Herald";

/// One CloudWatch Embedded Metric Format record: `values` (name, count) under one set of
/// `dimensions` (name, value). CloudWatch turns the log line into metrics; no API call.
pub fn emf_line(dimensions: &[(&str, &str)], values: &[(&str, f64, &str)]) -> String {
    let mut root = serde_json::Map::new();
    for (name, value) in dimensions {
        root.insert((*name).to_owned(), serde_json::Value::from(*value));
    }
    for (name, value, _) in values {
        root.insert((*name).to_owned(), serde_json::Value::from(*value));
    }
    let names: Vec<&str> = dimensions.iter().map(|(n, _)| *n).collect();
    let metrics: Vec<serde_json::Value> = values
        .iter()
        .map(|(name, _, unit)| serde_json::json!({"Name": name, "Unit": unit}))
        .collect();
    root.insert(
        "_aws".to_owned(),
        serde_json::json!({
            "Timestamp": chrono::Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [names],
                "Metrics": metrics,
            }],
        }),
    );
    serde_json::Value::Object(root).to_string()
}

/// Writes an EMF record to standard output in Lambda (where CloudWatch reads it); elsewhere
/// (the local stack, tests) it is a debug log line.
pub fn emit(dimensions: &[(&str, &str)], values: &[(&str, f64, &str)]) {
    if values.is_empty() {
        return;
    }
    let line = emf_line(dimensions, values);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        println!("{line}");
    } else {
        tracing::debug!(metrics = %line, "metrics");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn emf_records_name_their_dimensions_and_metrics() {
        let line = super::emf_line(
            &[("Function", "tracker"), ("EventType", "bounced")],
            &[("Events", 3.0, "Count")],
        );
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["Events"], 3.0);
        assert_eq!(v["EventType"], "bounced");
        let m = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(m["Namespace"], "Herald");
        assert_eq!(
            m["Dimensions"][0],
            serde_json::json!(["Function", "EventType"])
        );
        assert_eq!(m["Metrics"][0]["Name"], "Events");
    }
}
