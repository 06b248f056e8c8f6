from common.migrations.env import run

run()
