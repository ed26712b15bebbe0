use clap::Parser;

fn main() {
    let cli = simulate::cli::Cli::parse();
    let code = match simulate::commands::main(cli) {
        Ok(code) => code,
        Err(e) => {
            let (code, message) = simulate::exit::of_error(&e);
            eprintln!("error: {message}");
            code
        }
    };
    std::process::exit(code);
}
