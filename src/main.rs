use clap::Parser;

fn main() {
    let cli = simulate::cli::Cli::parse();
    let code = match simulate::commands::main(cli) {
        Ok(code) => code,
        Err(e) => {
            if e.downcast_ref::<simulate::commands::BadInput>().is_some()
                || e.downcast_ref::<simulate_core::diagnostic::Problems>()
                    .is_some()
            {
                eprintln!("error: {e}");
                simulate::commands::EXIT_BAD_INPUT
            } else {
                eprintln!("error: {e:#}");
                1
            }
        }
    };
    std::process::exit(code);
}
