import CareCLI

@main
struct Entrypoint {
    static func main() async {
        await CareCommand.main()
    }
}
