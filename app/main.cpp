// sigmaops - the terminal application. Every subcommand is an entry of the table in app/cli/
// (commands.cpp); this file only hands the arguments over.
#include "cli/commands.h"
#include "cli/common.h"

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
    sigmaops::cli::Interrupt::install();
    try {
        return sigmaops::cli::main(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const std::exception& e) {
        std::cerr << "sigmaops: " << e.what() << "\n";
        return sigmaops::cli::k_exit_failure;
    }
}
