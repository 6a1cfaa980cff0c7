import CareServer
import Logging

@main
struct Entrypoint {
    static func main() async {
        LoggingSystem.bootstrap { LineLogHandler(label: $0) }
        await CareServerCommand.main()
    }
}
