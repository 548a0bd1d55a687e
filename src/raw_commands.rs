//! Raw commands and pipelines, sent as given; replies cross as JSON text. The raw client's
//! methods build their commands here (digis_redis_core::raw_args), reading the caller's JS values.

use digis_redis_binding_macros::feature_methods;
use digis_redis_core::raw_args::{self, ArgValue, Part};
use digis_redis_core::{reply_json, Cmd};
use napi::bindgen_prelude::*;
use napi::{JsValue, ValueType};
use napi_derive::napi;

use crate::NativeClient;

/// The raw client's methods (and its pipelines').
#[napi]
pub fn raw_command_names() -> Vec<&'static str> {
    raw_args::method_names().collect()
}

/// The parts of the raw client's `method` called with `args`: the caller's values as given (the
/// JS layer serializes them), undefined for a required argument left out.
#[napi]
pub fn raw_command_parts<'env>(
    env: &'env Env,
    method: String,
    args: Vec<Unknown<'env>>,
) -> Result<Vec<Unknown<'env>>> {
    let Some(method) = raw_args::method_names().find(|name| *name == method) else {
        return Err(Error::new(
            Status::InvalidArg,
            format!("no raw command {method}"),
        ));
    };
    let args = args.into_iter().map(|value| Js { env, value }).collect();
    raw_args::command_parts(method, args)?
        .into_iter()
        .map(|part| match part {
            Part::Word(word) => word.into_unknown(env),
            Part::Count(n) => (n as f64).into_unknown(env),
            Part::Name(name) => name.into_unknown(env),
            Part::Given(arg) => Ok(arg.value),
            Part::Missing => ().into_unknown(env),
        })
        .collect()
}

/// A caller's argument, read as the JS would read it.
struct Js<'env> {
    env: &'env Env,
    value: Unknown<'env>,
}

impl<'env> Js<'env> {
    fn of(&self, value: Unknown<'env>) -> Js<'env> {
        Js {
            env: self.env,
            value,
        }
    }

    /// The value as an object: itself, a primitive's wrapper, or none for undefined and null.
    fn object(&self) -> Result<Option<Object<'env>>> {
        Ok(match self.value.get_type()? {
            ValueType::Undefined | ValueType::Null => None,
            _ => Some(self.value.coerce_to_object()?),
        })
    }
}

impl ArgValue for Js<'_> {
    type Error = Error;

    fn is_undefined(&self) -> bool {
        matches!(self.value.get_type(), Ok(ValueType::Undefined))
    }

    fn is_number(&self) -> bool {
        matches!(self.value.get_type(), Ok(ValueType::Number))
    }

    fn is_array(&self) -> bool {
        self.value.is_array().unwrap_or(false)
    }

    fn truthy(&self) -> Result<bool> {
        self.value.coerce_to_bool()
    }

    fn field(&self, name: &str) -> Result<Self> {
        let value = match self.object()? {
            Some(object) => object.get_named_property::<Unknown>(name)?,
            None => ().into_unknown(self.env)?,
        };
        Ok(self.of(value))
    }

    fn has(&self, name: &str) -> Result<bool> {
        match self.value.get_type()? {
            ValueType::Object | ValueType::Function => {
                self.value.coerce_to_object()?.has_property(name)
            }
            _ => Ok(false),
        }
    }

    fn items(&self) -> Result<Vec<Self>> {
        if !self.is_array() {
            return Ok(vec![]);
        }
        let array = self.value.coerce_to_object()?;
        (0..array.get_array_length()?)
            .map(|i| Ok(self.of(array.get_element::<Unknown>(i)?)))
            .collect()
    }

    fn entries(&self) -> Result<Vec<(String, Self)>> {
        let Some(object) = self.object()? else {
            return Ok(vec![]);
        };
        let names = object.get_all_property_names(
            KeyCollectionMode::OwnOnly,
            KeyFilter::Enumerable,
            KeyConversion::NumbersToStrings,
        )?;
        let mut entries = vec![];
        for i in 0..names.get_array_length()? {
            let name = names.get_element::<Unknown>(i)?;
            // Object.entries leaves symbol keys out.
            if name.get_type()? == ValueType::String {
                let value = object.get_property::<Unknown, Unknown>(name)?;
                entries.push((
                    name.coerce_to_string()?.into_utf8()?.into_owned()?,
                    self.of(value),
                ));
            }
        }
        Ok(entries)
    }
}

#[feature_methods]
#[napi]
impl NativeClient {
    fn ping(&self) -> bool {
        move |f| async move { f.ping().await }
    }

    /// One raw command; the reply as JSON text.
    fn command(&self, parts: Vec<String>) -> String {
        let cmd = Cmd::from_parts(parts.into_iter().map(Into::into).collect());
        move |f| async move {
            let reply = f.raw_command(cmd).await?;
            Ok(reply_json::reply_to_json(&reply))
        }
    }

    /// Raw commands in one round trip (`atomic`: MULTI/EXEC); the items as JSON text.
    fn pipeline(&self, commands: Vec<Vec<String>>, atomic: bool) -> String {
        let cmds = commands
            .into_iter()
            .map(|parts| Cmd::from_parts(parts.into_iter().map(Into::into).collect()))
            .collect();
        move |f| async move {
            let items = f.raw_pipeline(cmds, atomic).await?;
            Ok(reply_json::pipeline_to_json(&items))
        }
    }
}
