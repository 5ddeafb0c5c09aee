"""A stand-in LINE platform: LINE's paths, status codes, limits and signatures, in one process.

No machine here reaches LINE, so the bot, the tests, the benchmarks and a curious person meet
"LINE" through this simulator. See `simulator.app.create_sim_app` for the endpoints.
"""
