//! Secrets are named, never written: every `*_env` key of `targets` names an
//! environment variable, which must be set when the scenario is checked —
//! a missing one is a located error before any connection is made. Also
//! Kafka's TLS/SASL settings: files readable, a consistent protocol, a
//! mechanism this build supports.

use super::Ctx;
use std::path::PathBuf;

use crate::scenario::model::{ConnectAccess, KafkaSecurity, Sasl};
use crate::scenario::spec::{
    KafkaProtocolSpec, KafkaSaslSpec, KafkaSecuritySpec, KafkaTargetSpec, KafkaTlsSpec,
    ScenarioSpec,
};

pub(super) fn env_vars(cx: &mut Ctx<'_>, spec: &ScenarioSpec) {
    let t = &spec.targets;
    let mut named: Vec<(String, &str)> = Vec::new();
    if let Some(r) = &t.schema_registry {
        for (key, var) in [
            ("basic_auth_env", &r.basic_auth_env),
            ("bearer_token_env", &r.bearer_token_env),
        ] {
            if let Some(v) = var {
                named.push((format!("/targets/schema_registry/{key}"), v));
            }
        }
    }
    if let Some(c) = &t.connect {
        for (key, var) in [
            ("basic_auth_env", &c.basic_auth_env),
            ("bearer_token_env", &c.bearer_token_env),
        ] {
            if let Some(v) = var {
                named.push((format!("/targets/connect/{key}"), v));
            }
        }
    }
    if let Some(k) = t.sqs.as_ref().and_then(|s| s.credentials.as_ref()) {
        let base = "/targets/sqs/credentials";
        named.push((format!("{base}/access_key_id_env"), &k.access_key_id_env));
        named.push((
            format!("{base}/secret_access_key_env"),
            &k.secret_access_key_env,
        ));
        if let Some(v) = &k.session_token_env {
            named.push((format!("{base}/session_token_env"), v));
        }
    }
    for (ptr, var) in named {
        check(cx, &ptr, var);
    }
    // Two sources of credentials for one endpoint: which one wins would be a
    // guess (the URL's user info used to win silently).
    let has_user_info = |url: &str| {
        let authority = url.split_once("://").map_or("", |(_, r)| r);
        authority
            .split(['/', '?', '#'])
            .next()
            .unwrap_or("")
            .contains('@')
    };
    let endpoints = [
        t.schema_registry.as_ref().map(|r| {
            let auth = r.basic_auth_env.is_some() || r.bearer_token_env.is_some();
            ("/targets/schema_registry/url", &r.url, auth)
        }),
        t.connect.as_ref().map(|c| {
            let auth = c.basic_auth_env.is_some() || c.bearer_token_env.is_some();
            ("/targets/connect/url", &c.url, auth)
        }),
    ];
    for (ptr, url, auth) in endpoints.into_iter().flatten() {
        if auth && has_user_info(url) {
            cx.error(
                ptr,
                "the URL carries credentials (user info) and `basic_auth_env`/`bearer_token_env` names others",
                "keep one: remove `user:password@` from the URL (secrets belong in variables)",
            );
        }
    }
}

/// `var` must be a plausible variable name, and set.
pub(super) fn check(cx: &mut Ctx<'_>, ptr: &str, var: &str) {
    let plausible = !var.is_empty()
        && !var.starts_with(|c: char| c.is_ascii_digit())
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plausible {
        // Most likely the secret itself was pasted where its variable's name belongs:
        // do not echo it.
        cx.error(
            ptr,
            "this must name an environment variable (letters, digits, `_`), not hold the secret itself",
            "export the secret in a variable and write its name here, e.g. `KAFKA_PASSWORD`",
        );
    } else if cx.vars.get(var).is_none() {
        cx.error(
            ptr,
            format!("environment variable `{var}` is not set"),
            format!("export `{var}` before running (the scenario names it; the value never appears in files, logs or reports)"),
        );
    }
}

/// librdkafka properties that hold secrets: refused in `targets.kafka.producer`.
const SECRET_PROPS: [&str; 7] = [
    "sasl.password",
    "ssl.key.password",
    "ssl.keystore.password",
    "ssl.truststore.password",
    "ssl.key.pem",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.config",
];
/// Properties `targets.kafka.security` sets: not also in `producer`.
const SECURITY_PROPS: [&str; 9] = [
    "security.protocol",
    "sasl.mechanisms",
    "sasl.mechanism",
    "sasl.username",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.endpoint.identification.algorithm",
    "enable.ssl.certificate.verification",
];

/// Checks `targets.kafka.security` (files readable, variables set, a
/// consistent protocol) and refuses secrets in `targets.kafka.producer`.
pub(super) fn kafka(cx: &mut Ctx<'_>, spec: &ScenarioSpec) -> Option<KafkaSecurity> {
    let k = spec.targets.kafka.as_ref()?;
    producer_props(cx, k);
    let s = k.security.as_ref()?;
    let base = "/targets/kafka/security";
    let (protocol, sasl_on) = protocol(cx, base, s);
    let tls = s.tls.clone().unwrap_or_default();
    let (ca_file, cert_file, key_file) = tls_files(cx, base, &tls);
    let sasl = s
        .sasl
        .as_ref()
        .filter(|_| sasl_on)
        .and_then(|sasl| self::sasl(cx, &format!("{base}/sasl"), sasl, protocol));
    Some(KafkaSecurity {
        protocol: match protocol {
            KafkaProtocolSpec::Plaintext => "PLAINTEXT",
            KafkaProtocolSpec::Ssl => "SSL",
            KafkaProtocolSpec::SaslPlaintext => "SASL_PLAINTEXT",
            KafkaProtocolSpec::SaslSsl => "SASL_SSL",
        },
        ca_file,
        cert_file,
        key_file,
        key_password_env: tls.key_password_env.clone(),
        verify_hostname: tls.verify_hostname.unwrap_or(true),
        sasl,
    })
}

/// No secret in `targets.kafka.producer`, nor what `security` sets.
fn producer_props(cx: &mut Ctx<'_>, k: &KafkaTargetSpec) {
    for key in k.producer.keys() {
        let ptr = format!("/targets/kafka/producer/{key}");
        if SECRET_PROPS.contains(&key.as_str()) {
            cx.error_at_key(
                &ptr,
                format!("`{key}` holds a secret and cannot be written in a scenario"),
                "use `targets.kafka.security` (`sasl.password_env`, `tls.key_password_env`): it names the environment variable holding the secret",
            );
        } else if k.security.is_some() && SECURITY_PROPS.contains(&key.as_str()) {
            cx.error_at_key(
                &ptr,
                format!("`{key}` is set by `targets.kafka.security`"),
                "remove it here, or drop `targets.kafka.security` and configure librdkafka by hand",
            );
        }
    }
}

/// The protocol (given, or implied by the `sasl` and `tls` blocks) and
/// whether it uses SASL; a block the protocol does not use, or a SASL
/// protocol without its block, is an error.
fn protocol(cx: &mut Ctx<'_>, base: &str, s: &KafkaSecuritySpec) -> (KafkaProtocolSpec, bool) {
    let protocol = match (s.protocol, &s.sasl, &s.tls) {
        (Some(p), ..) => p,
        (None, Some(_), _) => KafkaProtocolSpec::SaslSsl,
        (None, None, Some(_)) => KafkaProtocolSpec::Ssl,
        (None, None, None) => KafkaProtocolSpec::Plaintext,
    };
    let (tls_on, sasl_on) = match protocol {
        KafkaProtocolSpec::Plaintext => (false, false),
        KafkaProtocolSpec::Ssl => (true, false),
        KafkaProtocolSpec::SaslPlaintext => (false, true),
        KafkaProtocolSpec::SaslSsl => (true, true),
    };
    if s.sasl.is_some() && !sasl_on {
        cx.error(
            &format!("{base}/sasl"),
            "`sasl` is set but the protocol does not use SASL",
            "use `protocol: sasl_ssl` (or `sasl_plaintext`), or remove `sasl`",
        );
    }
    if sasl_on && s.sasl.is_none() {
        cx.error(
            &format!("{base}/protocol"),
            "a SASL protocol needs a `sasl` block",
            "add `sasl: { mechanism: SCRAM-SHA-512, username_env: KAFKA_USER, password_env: KAFKA_PASSWORD }`",
        );
    }
    if s.tls.is_some() && !tls_on {
        cx.error(
            &format!("{base}/tls"),
            "`tls` is set but the protocol is not encrypted",
            "use `protocol: ssl` or `sasl_ssl`, or remove `tls`",
        );
    }
    (protocol, sasl_on)
}

/// The TLS files (CA, client certificate, client key), each readable;
/// mutual TLS needs both of the last two, a key password needs the key.
fn tls_files(
    cx: &mut Ctx<'_>,
    base: &str,
    tls: &KafkaTlsSpec,
) -> (Option<PathBuf>, Option<PathBuf>, Option<PathBuf>) {
    let ca_file = pem_file(cx, base, "ca_file", &tls.ca_file);
    let cert_file = pem_file(cx, base, "cert_file", &tls.cert_file);
    let key_file = pem_file(cx, base, "key_file", &tls.key_file);
    let given = |w: &Option<String>| w.as_ref().is_some_and(|w| !w.trim().is_empty());
    if given(&tls.cert_file) != given(&tls.key_file) {
        cx.error(
            &format!("{base}/tls"),
            "mutual TLS needs both `cert_file` and `key_file`",
            "give the client certificate and its private key, or neither",
        );
    }
    if let Some(v) = &tls.key_password_env {
        if !given(&tls.key_file) {
            cx.error(
                &format!("{base}/tls/key_password_env"),
                "`key_password_env` without a `key_file`",
                "it is the password of an encrypted `key_file`",
            );
        }
        check(cx, &format!("{base}/tls/key_password_env"), v);
    }
    (ca_file, cert_file, key_file)
}

/// The TLS file `tls.{key}`, resolved, when given and readable.
fn pem_file(cx: &mut Ctx<'_>, base: &str, key: &str, written: &Option<String>) -> Option<PathBuf> {
    // An empty path (e.g. `${KAFKA_CA_FILE:-}` with the variable unset) is no path.
    let written = written.as_ref().filter(|w| !w.trim().is_empty())?;
    let f = cx.file(written);
    match std::fs::File::open(&f.resolved) {
        Ok(_) => Some(f.resolved),
        Err(e) => {
            cx.error(
                &format!("{base}/tls/{key}"),
                format!("cannot read `{written}`: {e}"),
                "paths are relative to the scenario file's folder; the file must be PEM",
            );
            None
        }
    }
}

fn sasl(
    cx: &mut Ctx<'_>,
    ptr: &str,
    s: &KafkaSaslSpec,
    protocol: KafkaProtocolSpec,
) -> Option<Sasl> {
    let mechanism = s.mechanism.trim().to_ascii_uppercase().replace('_', "-");
    let password = |cx: &mut Ctx<'_>, mechanism: &'static str| {
        for (key, var) in [
            ("username_env", &s.username_env),
            ("password_env", &s.password_env),
        ] {
            match var {
                Some(v) => check(cx, &format!("{ptr}/{key}"), v),
                None => cx.error(
                    &format!("{ptr}/{key}"),
                    format!("SASL {mechanism} needs `{key}`"),
                    "name the environment variable holding it, e.g. `KAFKA_USER` / `KAFKA_PASSWORD`",
                ),
            }
        }
        for (key, v) in [("region", &s.region), ("profile", &s.profile)] {
            if v.is_some() {
                cx.error(
                    &format!("{ptr}/{key}"),
                    format!("`{key}` only applies to AWS_MSK_IAM"),
                    "remove it",
                );
            }
        }
        Some(Sasl::Password {
            mechanism,
            username_env: s.username_env.clone()?,
            password_env: s.password_env.clone()?,
        })
    };
    match mechanism.as_str() {
        "PLAIN" => password(cx, "PLAIN"),
        "SCRAM-SHA-256" => password(cx, "SCRAM-SHA-256"),
        "SCRAM-SHA-512" => password(cx, "SCRAM-SHA-512"),
        "AWS-MSK-IAM" => {
            for (key, v) in [
                ("username_env", &s.username_env),
                ("password_env", &s.password_env),
            ] {
                if v.is_some() {
                    cx.error(
                        &format!("{ptr}/{key}"),
                        format!("AWS_MSK_IAM takes no `{key}`: it signs with AWS credentials"),
                        "remove it; credentials come from the AWS chain (`profile`, environment, role)",
                    );
                }
            }
            if protocol != KafkaProtocolSpec::SaslSsl {
                cx.error(
                    &format!("{ptr}/mechanism"),
                    "Amazon MSK IAM authentication needs `protocol: sasl_ssl`",
                    "MSK's IAM listener (port 9098) is TLS only",
                );
            }
            Some(Sasl::MskIam {
                region: s.region.clone(),
                profile: s.profile.clone(),
            })
        }
        _ => {
            cx.error(
                &format!("{ptr}/mechanism"),
                format!("SASL mechanism `{}` is not supported", s.mechanism),
                "use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM (GSSAPI/Kerberos is not built in)",
            );
            None
        }
    }
}

/// A readable file named at `ptr` (empty: none), resolved against the scenario's folder.
fn readable(cx: &mut Ctx<'_>, ptr: &str, written: Option<&String>) -> Option<PathBuf> {
    let written = written.filter(|w| !w.trim().is_empty())?;
    let f = cx.file(written);
    match std::fs::read(&f.resolved) {
        Ok(bytes) if bytes.windows(11).any(|w| w == b"-----BEGIN ") => Some(f.resolved),
        Ok(_) => {
            cx.error(
                ptr,
                format!("`{written}` is not a PEM file"),
                "give the CA certificate(s) in PEM form (`-----BEGIN CERTIFICATE-----`)",
            );
            None
        }
        Err(e) => {
            cx.error(
                ptr,
                format!("cannot read `{written}`: {e}"),
                "paths are relative to the scenario file's folder",
            );
            None
        }
    }
}

/// The Schema Registry's CA file and how Kafka Connect's REST API is reached.
pub(super) fn http_access(
    cx: &mut Ctx<'_>,
    spec: &ScenarioSpec,
) -> (Option<PathBuf>, ConnectAccess) {
    let t = &spec.targets;
    let registry_ca = t
        .schema_registry
        .as_ref()
        .and_then(|r| readable(cx, "/targets/schema_registry/ca_file", r.ca_file.as_ref()));
    let connect = t.connect.as_ref().map(|c| ConnectAccess {
        basic_auth_env: c.basic_auth_env.clone(),
        bearer_token_env: c.bearer_token_env.clone(),
        ca_file: readable(cx, "/targets/connect/ca_file", c.ca_file.as_ref()),
    });
    (registry_ca, connect.unwrap_or_default())
}
