"""The moving parts: dramatiq broker, actors, middleware, the scheduler and its leader lock."""
