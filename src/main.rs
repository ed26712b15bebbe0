use clap::Parser;

fn main() {
    let cli = simulate::cli::Cli::parse();
    let code = match simulate::app::main(cli) {
        Ok(code) => code,
        Err(e) => {
            if e.downcast_ref::<simulate::app::BadInput>().is_some()
                || e.downcast_ref::<simulate::config::Problems>().is_some()
            {
                eprintln!("error: {e}");
                simulate::app::EXIT_BAD_INPUT
            } else {
                eprintln!("error: {e:#}");
                1
            }
        }
    };
    std::process::exit(code);
}
