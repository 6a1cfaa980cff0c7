import CareCLI

@main
struct Entrypoint {
    static func main() async {
        await CareMain.main()
    }
}
