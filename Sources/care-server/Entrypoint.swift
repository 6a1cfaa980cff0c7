import CareServer

@main
struct Entrypoint {
    static func main() async {
        await CareServerCommand.main()
    }
}
