//! ResourceProperties into a resource's typed properties (see [`function_base::properties`]
//! for the lenient reading: numbers and booleans as strings, full-path errors).

pub use function_base::properties::{PropertyError, from_value};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Properties every custom resource accepts and the core consumes itself.
pub const CORE_PROPERTIES: [&str; 2] = ["ServiceToken", "ServiceTimeout"];

/// Deserialize ResourceProperties (minus ServiceToken and ServiceTimeout) into `T`.
pub fn parse<T: DeserializeOwned>(properties: &Map<String, Value>) -> Result<T, PropertyError> {
    let mut own = properties.clone();
    for name in CORE_PROPERTIES {
        own.remove(name);
    }
    from_value(&Value::Object(own))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Props {
        name: String,
        count: Option<i32>,
    }

    #[test]
    fn the_core_s_own_properties_are_always_accepted() {
        let props: Props = parse(json!({"ServiceToken": "arn", "ServiceTimeout": "300", "Name": "a", "Count": "60"}).as_object().unwrap()).unwrap();
        assert_eq!((props.name.as_str(), props.count), ("a", Some(60)));
        let e = parse::<Props>(json!({"Name": "a", "Colour": "red"}).as_object().unwrap()).unwrap_err();
        assert_eq!(e.path, "Colour");
    }
}
