"""The TradingStrategy process: wires engine, venue and store; schedules jobs; health; shutdown."""
