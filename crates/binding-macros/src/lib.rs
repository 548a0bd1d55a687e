//! `#[feature_methods]`, for the napi binding's `NativeClient` methods that run one core
//! feature call. A proc macro rather than `macro_rules!`: doc comments that pass through
//! `macro_rules!` reach napi-rs as raw strings, which it copies into binding.d.ts as `r"…`.

use proc_macro::TokenStream;
use quote::quote;
use syn::{parse_macro_input, parse_quote, FnArg, ImplItem, ItemImpl, ReturnType, Type};

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(tuple) if tuple.elems.is_empty())
}

/// On an `impl NativeClient` block, above its `#[napi]`. Each method is written as
///
/// ```ignore
/// /// The value at `id` in `ns`.
/// fn get(&self, ns: Namespace, id: String) -> Option<String> {
///     let key = target(ns, id); // on the caller's thread: a bad argument throws
///     move |f| async move { Ok(f.get(&key).await?.map(text)) }
/// }
/// ```
///
/// its body ending in a closure that takes the client's `Features` and returns the call's
/// future. The macro makes it `pub`, adds the `env` argument, answers through
/// `NativeClient::answer_with` (at once on the embedded store, else a promise) and marks it
/// `#[napi]`, whose TypeScript is `T | Promise<T>` (`void | Promise<void>` for `()`); a method
/// may give its own `#[napi(...)]`.
#[proc_macro_attribute]
pub fn feature_methods(_attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut block = parse_macro_input!(item as ItemImpl);
    for item in &mut block.items {
        let ImplItem::Fn(method) = item else { continue };
        let answer: Type = match &method.sig.output {
            ReturnType::Default => parse_quote!(()),
            ReturnType::Type(_, ty) => (**ty).clone(),
        };
        // `#[reads_only]`: the call changes nothing (near-cache reads need not wait for it).
        let reads_only = method.attrs.iter().any(|a| a.path().is_ident("reads_only"));
        method.attrs.retain(|a| !a.path().is_ident("reads_only"));
        let has_napi = method.attrs.iter().any(|a| a.path().is_ident("napi"));
        if !has_napi {
            if is_unit(&answer) {
                method
                    .attrs
                    .push(parse_quote!(#[napi(ts_return_type = "void | Promise<void>")]));
            } else {
                method.attrs.push(parse_quote!(#[napi]));
            }
        }
        method.vis = parse_quote!(pub);
        method.sig.generics.params.push(parse_quote!('env));
        let env: FnArg = parse_quote!(env: &'env napi::Env);
        method.sig.inputs.insert(1, env);
        method.sig.output = parse_quote!(
            -> napi::Result<
                napi::Either<#answer, napi::bindgen_prelude::PromiseRaw<'env, #answer>>,
                crate::js_error::Code,
            >
        );
        let body = &method.block;
        method.block = if reads_only {
            parse_quote!({ self.answer_read_with(env, #body) })
        } else {
            parse_quote!({ self.answer_with(env, #body) })
        };
    }
    quote!(#block).into()
}
