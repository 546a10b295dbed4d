//! `tessera-server`: serve Tessera, or administer accounts from the shell.

use clap::{Parser, Subcommand};
use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use tessera::account::Role;
use tessera_server::clock::{Clock, SystemClock};
use tessera_server::config::{self, LogFormat};
use tessera_server::users::{self, AddUser, AdminBootstrap};

#[derive(Parser)]
#[command(
    name = "tessera-server",
    version,
    about = "Tessera: self-service two-factor account security portal",
    after_help = "Configuration comes from TESSERA_* environment variables (and an optional TOML file named by TESSERA_CONFIG); see `tessera-server config`."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations and serve HTTP (the default).
    Serve,
    /// Apply migrations and exit.
    Migrate,
    /// List every setting with its default, and check the current configuration.
    Config,
    /// Create the first administrator if there is none. The password comes from
    /// TESSERA_ADMIN_PASSWORD, or is generated and printed once.
    EnsureAdmin {
        #[arg(long, env = "TESSERA_ADMIN_USERNAME", default_value = "admin")]
        username: String,
    },
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Choose the plugin that sends SMS codes.
    #[command(subcommand)]
    Sms(SmsCommand),
    /// Read or change the 2FA policy (the console's Policy page).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Register applications that sign users in through OpenID Connect.
    #[command(subcommand)]
    Client(ClientCommand),
    /// The keys that sign ID tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register an application. A confidential client's secret is printed
    /// once and stored only as a hash.
    Add {
        /// What people see, e.g. "Payroll".
        #[arg(long)]
        name: String,
        /// Where the application receives codes; exact match (repeat for each).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where signing out from the application may return (repeat for each).
        #[arg(long = "post-logout-uri")]
        post_logout_uris: Vec<String>,
        /// The client id; made up when not given.
        #[arg(long, default_value = "")]
        id: String,
        /// A browser or mobile app that cannot keep a secret (PKCE required).
        #[arg(long)]
        public: bool,
        /// Also allow the password grant with a second factor (for clients
        /// that cannot show a browser).
        #[arg(long)]
        password_grant: bool,
    },
    /// A new secret for a confidential client; the old one stops working now.
    RotateSecret { id: String },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// A new signing key signs from now on; the old one's public key stays in
    /// the JWKS until tokens it signed have expired.
    Rotate,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Print the policy as NAME=VALUE lines.
    Show,
    /// Change fields, as NAME=VALUE (checked like the console's form; nothing
    /// is saved on any problem). Applies to the next request.
    Set {
        #[arg(value_name = "NAME=VALUE")]
        fields: Vec<String>,
    },
}

#[derive(Subcommand)]
enum SmsCommand {
    /// List the installed plugins and their properties.
    Plugins,
    /// Make a plugin handle SMS, with its properties (checked before saving).
    /// Applies to the next request of a running server.
    Use {
        /// outbox, twilio, twilio-verify, stytch, vonage or http
        plugin: String,
        /// A property, as NAME=VALUE (repeat for each).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account. The password is read from standard input.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "")]
        email: String,
        #[arg(long, default_value = "")]
        display_name: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Set an account's password, read from standard input.
    SetPassword {
        #[arg(long)]
        username: String,
    },
}

fn read_password() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    Ok(s.trim_end_matches(['\r', '\n']).to_owned())
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// What seals the ID-token signing keys.
fn signing_key_sealer(config: &config::Config) -> anyhow::Result<tessera_server::secrets::Sealer> {
    let key = config.secret_key.as_ref().ok_or_else(|| {
        anyhow::anyhow!("OpenID Connect signing keys are sealed with TESSERA_SECRET_KEY, which is not set")
    })?;
    Ok(tessera_server::secrets::Sealer::from_secret(&key.0))
}

#[tokio::main]
async fn main() -> ExitCode {
    tessera_server::allocator::pin_mmap_threshold();
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);

    if let Command::Config = command {
        println!("{:<44} {:<24} meaning", "variable", "default");
        for s in config::SETTINGS {
            println!(
                "{:<44} {:<24} {}",
                format!("TESSERA_{}", s.key.to_uppercase()),
                s.default.unwrap_or("(required)"),
                s.help
            );
        }
    }
    let config = match config::load() {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("tessera-server: the configuration has {} problem(s):", errors.len());
            for e in errors {
                eprintln!("  - {e}");
            }
            return ExitCode::from(2);
        }
    };
    init_tracing(config.log_format);
    match run(command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: config::Config) -> anyhow::Result<()> {
    let clock = SystemClock;
    match command {
        Command::Config => {
            println!("\nThe current configuration is valid.");
            Ok(())
        }
        Command::Migrate => {
            tessera_server::connect(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::EnsureAdmin { username } => {
            let pool = tessera_server::connect(&config).await?;
            let password = std::env::var("TESSERA_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty());
            match users::ensure_admin(&pool, &clock, &username, password.as_deref()).await? {
                AdminBootstrap::Present => {}
                AdminBootstrap::Created {
                    username,
                    generated_password: Some(pw),
                } => {
                    println!(
                        "Created the first administrator. Sign in with:\n  username: {username}\n  password: {pw}\nThis password is shown only once."
                    );
                }
                AdminBootstrap::Created {
                    username,
                    generated_password: None,
                } => {
                    println!(
                        "Created the first administrator {username:?} with the password from TESSERA_ADMIN_PASSWORD."
                    );
                }
            }
            Ok(())
        }
        Command::User(UserCommand::Add {
            username,
            email,
            display_name,
            admin,
        }) => {
            let pool = tessera_server::connect(&config).await?;
            let password = read_password()?;
            let role = if admin { Role::Admin } else { Role::User };
            users::add_user(
                &pool,
                &clock,
                AddUser {
                    username: &username,
                    password: &password,
                    email: &email,
                    display_name: &display_name,
                    role,
                },
            )
            .await?;
            println!("added {username}");
            Ok(())
        }
        Command::User(UserCommand::SetPassword { username }) => {
            let pool = tessera_server::connect(&config).await?;
            let password = read_password()?;
            users::set_password(&pool, &clock, &username, &password).await?;
            println!("password set for {username}");
            Ok(())
        }
        Command::Sms(SmsCommand::Plugins) => {
            for p in tessera_server::methods::sms::providers::PLUGINS {
                println!("{}: {}", p.id, p.label);
                for prop in p.properties {
                    let need = if prop.required { "required" } else { "optional" };
                    println!(
                        "  {:<22} {need}; {} (e.g. {})",
                        prop.name, prop.description, prop.example
                    );
                }
            }
            Ok(())
        }
        Command::Sms(SmsCommand::Use { plugin, set }) => {
            let pool = tessera_server::connect(&config).await?;
            let mut props = serde_json::Map::new();
            for pair in set {
                let Some((name, value)) = pair.split_once('=') else {
                    anyhow::bail!("--set {pair:?}: write it as NAME=VALUE");
                };
                props.insert(name.trim().to_owned(), serde_json::Value::String(value.to_owned()));
            }
            let sealer = config
                .secret_key
                .as_ref()
                .map(|k| tessera_server::secrets::Sealer::from_secret(&k.0));
            if let Err(problems) = tessera_server::methods::sms::plugins::choose_plugin(
                &pool,
                clock.now(),
                sealer.as_ref(),
                &plugin,
                props,
            )
            .await
            {
                anyhow::bail!("the {plugin} settings were not saved:\n  {}", problems.join("\n  "));
            }
            println!("SMS codes now go through {plugin}");
            Ok(())
        }
        Command::Policy(PolicyCommand::Show) => {
            let pool = tessera_server::connect(&config).await?;
            let (policy, _) = tessera_server::settings::policy(&pool).await?;
            for (name, value) in policy.to_form() {
                println!("{name}={value}");
            }
            Ok(())
        }
        Command::Policy(PolicyCommand::Set { fields }) => {
            let pool = tessera_server::connect(&config).await?;
            let mut form = std::collections::BTreeMap::new();
            for pair in fields {
                let Some((name, value)) = pair.split_once('=') else {
                    anyhow::bail!("{pair:?}: write it as NAME=VALUE");
                };
                form.insert(name.trim().to_owned(), value.to_owned());
            }
            let known = tessera::policy::Policy::default().to_form();
            if let Some(name) = form.keys().find(|k| !known.contains_key(*k)) {
                let names: Vec<&str> = known.keys().map(String::as_str).collect();
                anyhow::bail!("{name}: no such field (fields: {})", names.join(", "));
            }
            let origin = tessera_server::audit::Origin {
                ip: "command line".into(),
                user_agent: None,
            };
            use tessera_server::settings::{PolicyChangeError, change_policy};
            match change_policy(&pool, clock.now(), &origin, None, &form, None).await {
                Ok(_) => {}
                Err(PolicyChangeError::Invalid(errors)) => {
                    let lines: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
                    anyhow::bail!("the policy was not changed:\n  {}", lines.join("\n  "));
                }
                Err(PolicyChangeError::Stale) => anyhow::bail!("the policy changed while saving; try again"),
                Err(PolicyChangeError::Db(e)) => return Err(e.into()),
            }
            println!("policy saved");
            Ok(())
        }
        Command::Client(ClientCommand::Add {
            name,
            redirect_uris,
            post_logout_uris,
            id,
            public,
            password_grant,
        }) => {
            use tessera_server::oidc::clients::{self, ClientKind, Grant, NewClient};
            let pool = tessera_server::connect(&config).await?;
            let new = NewClient {
                id,
                name,
                redirect_uris,
                post_logout_redirect_uris: post_logout_uris,
                kind: if public {
                    ClientKind::Public
                } else {
                    ClientKind::Confidential
                },
                grants: [Grant::AuthorizationCode, Grant::RefreshToken]
                    .into_iter()
                    .chain(password_grant.then_some(Grant::Password))
                    .collect(),
                first_party: true,
            };
            let (client, secret) = clients::register(&mut *pool.acquire().await?, new, clock.now()).await?;
            println!("client_id: {}", client.id);
            match secret {
                Some(s) => println!("client_secret: {s}\nThe secret is shown only this once."),
                None => println!("A public client: no secret; it must use PKCE (S256)."),
            }
            println!("issuer: {}", config.public_origin());
            Ok(())
        }
        Command::Client(ClientCommand::RotateSecret { id }) => {
            let pool = tessera_server::connect(&config).await?;
            let secret = tessera_server::oidc::clients::rotate_secret(&pool, &id, clock.now()).await?;
            println!("client_secret: {secret}\nThe secret is shown only this once; the old one no longer works.");
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate) => {
            let pool = tessera_server::connect(&config).await?;
            let sealer = signing_key_sealer(&config)?;
            let new = tessera_server::oidc::keys::rotate(&pool, &sealer, clock.now()).await?;
            println!(
                "Key {} is published now and signs ID tokens from {} (UTC), once relying parties' cached key sets have it.",
                new.kid,
                tessera_server::clock::human(new.signs_from)
            );
            Ok(())
        }
        Command::Serve => {
            let listen = config.listen;
            let pool = tessera_server::connect(&config).await?;
            if config.secret_key.is_some() {
                // Made at first start, so that the first client finds it.
                let sealer = signing_key_sealer(&config)?;
                tessera_server::oidc::keys::active(&pool, &sealer, clock.now()).await?;
            }
            let state = tessera_server::state(config, pool, Arc::new(SystemClock)).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| anyhow::anyhow!("listening on {listen}: {e}"))?;
            tracing::info!("Tessera listening on http://{listen}");
            tessera_server::serve(state, listener, shutdown_signal()).await
        }
    }
}
